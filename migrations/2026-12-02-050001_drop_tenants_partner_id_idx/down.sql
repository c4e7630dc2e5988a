CREATE INDEX CONCURRENTLY IF NOT EXISTS tenants_partner_id_idx ON tenants (partner_id);
