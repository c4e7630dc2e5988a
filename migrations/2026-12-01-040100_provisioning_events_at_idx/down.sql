DROP INDEX CONCURRENTLY IF EXISTS provisioning_events_at_idx;
