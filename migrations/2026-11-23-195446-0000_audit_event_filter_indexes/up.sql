-- Indexes for the auditEvents filters that 2026-11-23-000001_init does not cover.
--
-- init already has (at DESC, id DESC) for the unfiltered list and (tenant_id, …),
-- (partner_id, …) and (action, …) with the same (at DESC, id DESC) suffix. The btree indexes
-- below follow that shape: the filter's key, then the list order, so a filtered page is one
-- index range scan that stops after `first + 1` rows.
--
-- Plain CREATE INDEX (in the migration's transaction): audit_events is still small. Once it is
-- large, add indexes CONCURRENTLY instead (see migrations/README.md); note that a replica
-- waiting for the migration advisory lock holds a snapshot that CREATE INDEX CONCURRENTLY
-- would wait for.

-- Trigram operator classes for the substring search (trusted extension; contrib ships with
-- the Debian/Ubuntu postgresql packages and the official postgres image).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- filter.outcome
CREATE INDEX audit_events_outcome_at_idx
    ON audit_events (outcome, at DESC, id DESC);

-- filter.actorEmail (matched case-insensitively: lower(actor_email) = lower($1))
CREATE INDEX audit_events_lower_actor_email_at_idx
    ON audit_events (lower(actor_email), at DESC, id DESC);

-- filter.search: case-insensitive substring (ILIKE '%term%') over action, target id and
-- actor email. One expression instead of three indexes; the fields are joined by a newline,
-- which a search term may not contain, so a match never spans two fields. The query in
-- src/domain/audit_query.rs must use exactly this expression.
CREATE INDEX audit_events_search_trgm_idx
    ON audit_events USING gin (
        (action || E'\n' || coalesce(target_id, '') || E'\n' || coalesce(actor_email, ''))
        gin_trgm_ops
    );

COMMENT ON INDEX audit_events_outcome_at_idx IS
    'auditEvents(filter: {outcome}), newest first.';
COMMENT ON INDEX audit_events_lower_actor_email_at_idx IS
    'auditEvents(filter: {actorEmail}), case-insensitive, newest first.';
COMMENT ON INDEX audit_events_search_trgm_idx IS
    'auditEvents(filter: {search}): trigram index over action, target_id and actor_email (newline-joined).';
