-- Issue 18: a tenant's security policy. Expand only: a new table; a tenant without a row has
-- the defaults (MFA optional, 60 idle minutes, 24 absolute hours, no country or IP rule).

CREATE TABLE security_policies (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    mfa_mode text NOT NULL DEFAULT 'optional' CONSTRAINT security_policies_mfa_mode_known
        CHECK (mfa_mode IN ('off', 'optional', 'required', 'required_for_admins')),
    session_idle_minutes integer NOT NULL DEFAULT 60 CONSTRAINT security_policies_idle_range
        CHECK (session_idle_minutes BETWEEN 5 AND 1440),
    session_absolute_hours integer NOT NULL DEFAULT 24 CONSTRAINT security_policies_absolute_range
        CHECK (session_absolute_hours BETWEEN 1 AND 720),
    allowed_countries text[] NOT NULL DEFAULT '{}',
    ip_allowlist text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT security_policies_idle_within_absolute
        CHECK (session_idle_minutes <= session_absolute_hours * 60)
);
COMMENT ON TABLE security_policies IS 'A tenant''s security policy; no row means the defaults.';
COMMENT ON COLUMN security_policies.allowed_countries IS 'ISO 3166-1 alpha-2 codes (upper case); empty: any country.';
COMMENT ON COLUMN security_policies.ip_allowlist IS 'Normalised CIDR blocks (IPv4 and IPv6); empty: any address. Checked on every request of the tenant''s members.';
