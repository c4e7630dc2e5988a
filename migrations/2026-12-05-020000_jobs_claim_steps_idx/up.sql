-- Performance (issue 20): a worker's claim reads the due provisioning step jobs in
-- (run_at, id) order and stops after its batch, instead of scanning and sorting the whole
-- queue (14 ms per claim with 10,000 jobs queued; under 1 ms with this index and
-- jobs_claim_others_idx). Each queued or running job is in exactly one of the two. The kind
-- is spelled as in `domain::provisioning::state::JOB_KIND` (tests/api/perf/claim_plan.rs
-- fails if the claim stops using the index). One index per migration: CONCURRENTLY runs
-- outside a transaction, one statement at a time.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_claim_steps_idx
    ON jobs (run_at, id)
    WHERE status IN ('queued', 'running') AND kind = 'provisioning_step';
