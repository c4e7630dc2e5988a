-- Issue 22: white-label branding and email templates (tenants and partners), tenant industry
-- and brand colour, the partner's Authentik group and staff handles, self-service workspaces.
-- Expand only: new tables and nullable columns.

CREATE TABLE brandings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    partner_id uuid UNIQUE REFERENCES partners (id) ON DELETE RESTRICT,
    product_name text,
    accent_color text CONSTRAINT brandings_accent_color_hex CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
    logo_url text CONSTRAINT brandings_logo_url_https CHECK (logo_url LIKE 'https://%'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT brandings_one_owner CHECK ((tenant_id IS NULL) <> (partner_id IS NULL))
);
COMMENT ON TABLE brandings IS 'White-label branding of one tenant or one partner; NULL fields inherit (tenant from its partner, partner from the product defaults).';

CREATE TABLE email_templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
    partner_id uuid REFERENCES partners (id) ON DELETE RESTRICT,
    key text NOT NULL CONSTRAINT email_templates_key_known
        CHECK (key IN ('welcome', 'password_reset', 'invoice', 'domain_failing', 'staff_invite')),
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_templates_one_owner CHECK ((tenant_id IS NULL) <> (partner_id IS NULL))
);
COMMENT ON TABLE email_templates IS 'A tenant''s or partner''s override of one email template (minijinja, validated on save).';
CREATE UNIQUE INDEX email_templates_tenant_key ON email_templates (tenant_id, key) WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX email_templates_partner_key ON email_templates (partner_id, key) WHERE partner_id IS NOT NULL;

-- Kept beside `tenants` (which is at diesel's 16-column table limit): what a tenant says about
-- itself, and who created it through createWorkspace.
CREATE TABLE tenant_profiles (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    industry text CONSTRAINT tenant_profiles_industry_known CHECK (industry IN (
        'technology', 'finance', 'healthcare', 'education', 'government', 'retail',
        'manufacturing', 'media', 'legal', 'nonprofit', 'hospitality', 'other')),
    brand_color text CONSTRAINT tenant_profiles_brand_color_hex CHECK (brand_color ~ '^#[0-9a-f]{6}$'),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenant_profiles IS 'A tenant''s industry and brand colour, and who created it with createWorkspace (at most one row per tenant).';
COMMENT ON COLUMN tenant_profiles.industry IS 'The tenant''s industry, from a fixed list; NULL when not given.';
COMMENT ON COLUMN tenant_profiles.brand_color IS 'The tenant''s brand colour (#rrggbb, lower case).';
COMMENT ON COLUMN tenant_profiles.created_by IS 'The portal user who created the tenant with createWorkspace (counts against WORKSPACES_PER_USER); NULL otherwise.';
CREATE INDEX tenant_profiles_created_by ON tenant_profiles (created_by) WHERE created_by IS NOT NULL;

ALTER TABLE partners ADD COLUMN authentik_group_id text;
COMMENT ON COLUMN partners.authentik_group_id IS 'Id of the partner''s staff group in Authentik; NULL until a staff member was invited.';

ALTER TABLE partner_staff ADD COLUMN authentik_user_pk bigint;
COMMENT ON COLUMN partner_staff.authentik_user_pk IS 'The staff member''s Authentik user pk (set by inviteStaff); NULL when unknown.';
