-- Retention (issue 21): provisioning events older than EVENT_RETENTION_DAYS are deleted in
-- batches, oldest first (each tenant keeps its newest event). Built CONCURRENTLY.
CREATE INDEX CONCURRENTLY IF NOT EXISTS provisioning_events_at_idx
    ON provisioning_events (at);
