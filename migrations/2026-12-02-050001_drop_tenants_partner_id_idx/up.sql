-- tenants_partner_slug_idx leads with partner_id: this one is redundant.
DROP INDEX CONCURRENTLY IF EXISTS tenants_partner_id_idx;
