DROP INDEX CONCURRENTLY IF EXISTS tenants_partner_slug_idx;
