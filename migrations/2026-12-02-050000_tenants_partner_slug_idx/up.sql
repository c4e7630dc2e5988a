-- Performance (issue 20): a partner's tenants by slug, with their status. Serves the
-- per-partner tenant pages (an index scan of `first + 1` rows per partner, instead of
-- reading every tenant of every partner and ranking them) and `customerCount` (an
-- index-only scan, as is the tenants side of a join by partner). It leads with partner_id,
-- so it replaces tenants_partner_id_idx (dropped by the next migration: one statement per
-- migration, as CONCURRENTLY runs outside a transaction).
CREATE INDEX CONCURRENTLY IF NOT EXISTS tenants_partner_slug_idx
    ON tenants (partner_id, slug) INCLUDE (status, id);
