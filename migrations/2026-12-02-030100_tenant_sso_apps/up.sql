-- Issue 18: a tenant's SSO apps (Dezky as the identity provider for the tenant's own apps).
-- Expand only: a new table. There is deliberately no column for the client secret: it is shown
-- once by createSsoApp / rotateSsoAppSecret and lives only in Authentik.

CREATE TABLE tenant_sso_apps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name text NOT NULL CONSTRAINT tenant_sso_apps_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    client_id text NOT NULL,
    redirect_uris text[] NOT NULL,
    launch_url text,
    authentik_provider_pk bigint NOT NULL,
    authentik_application_slug text NOT NULL UNIQUE,
    authentik_binding_pk text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_sso_apps_tenant ON tenant_sso_apps (tenant_id, name);
COMMENT ON TABLE tenant_sso_apps IS 'A tenant''s OAuth2/OIDC app in Authentik (provider, application, binding to the tenant''s group). Never a secret column.';
