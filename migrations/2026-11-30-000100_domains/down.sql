DROP TRIGGER tenants_primary_domain_to_domains ON tenants;
DROP FUNCTION domains_follow_primary_domain();
DROP TABLE domains;
