DROP INDEX CONCURRENTLY IF EXISTS stripe_events_processed_idx;
