ALTER TABLE partner_staff DROP COLUMN authentik_user_pk;
ALTER TABLE partners DROP COLUMN authentik_group_id;
DROP TABLE tenant_profiles;
DROP TABLE email_templates;
DROP TABLE brandings;
