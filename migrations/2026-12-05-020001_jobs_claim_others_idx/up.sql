-- Performance (issue 20): the claim's one job of another kind, read in (run_at, id) order
-- from the jobs that are not provisioning steps (see jobs_claim_steps_idx).
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_claim_others_idx
    ON jobs (run_at, id)
    WHERE status IN ('queued', 'running') AND kind <> 'provisioning_step';
