-- Reverts up.sql, in reverse order. The extension is dropped only if nothing else uses it
-- (no CASCADE).

DROP INDEX audit_events_search_trgm_idx;
DROP INDEX audit_events_lower_actor_email_at_idx;
DROP INDEX audit_events_outcome_at_idx;

DROP EXTENSION IF EXISTS pg_trgm;
