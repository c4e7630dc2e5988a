-- Retention (issue 21): Stripe events handled more than EVENT_RETENTION_DAYS ago are deleted
-- in batches (Stripe stops retrying a delivery after 3 days, so the replay guard is not
-- needed that long). Built CONCURRENTLY.
CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_processed_idx
    ON stripe_events (processed_at) WHERE processed_at IS NOT NULL;
