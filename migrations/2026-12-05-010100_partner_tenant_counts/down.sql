DROP TRIGGER tenants_partner_counts_update ON tenants;
DROP TRIGGER tenants_partner_counts_insert_delete ON tenants;
DROP FUNCTION tenants_keep_partner_counts();
DROP TABLE partner_tenant_counts;
