-- Retention (issue 21): the retention job deletes finished jobs (`done`, `dead`) older than
-- JOB_RETENTION_DAYS in batches, oldest first. Built CONCURRENTLY (outside a transaction, see
-- metadata.toml), so a live queue is never locked against writes while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_finished_idx
    ON jobs (updated_at) WHERE status IN ('done', 'dead');
