-- Email domains (issue 16): one row per mail domain of a tenant, with what Stalwart says to
-- publish, the verifier's last results and the status with hysteresis.
--
-- Expand step of moving `tenants.primary_domain` here: the column stays (Tenant.primaryDomain
-- and older releases read and write it); existing values are copied as primary rows, and a
-- trigger keeps a tenant's primary row in step with the column while both exist.

CREATE TABLE domains (
    id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text        NOT NULL,
    stalwart_id          text        NULL,
    is_primary           boolean     NOT NULL DEFAULT false,
    dmarc_policy         text        NOT NULL DEFAULT 'none',
    dmarc_rua            jsonb       NOT NULL DEFAULT '[]',
    ownership_token      text        NOT NULL
        DEFAULT 'dezky-verification=' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
    status               text        NOT NULL DEFAULT 'pending_verification',
    published            jsonb       NOT NULL DEFAULT '[]',
    records              jsonb       NOT NULL DEFAULT '[]',
    last_checked_at      timestamptz NULL,
    next_check_at        timestamptz NOT NULL DEFAULT now(),
    consecutive_failures integer     NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT domains_name_key UNIQUE (name),
    CONSTRAINT domains_name_format
        CHECK (name = lower(name) AND char_length(name) BETWEEN 3 AND 253
               AND name ~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$'),
    CONSTRAINT domains_dmarc_policy_valid CHECK (dmarc_policy IN ('none', 'quarantine', 'reject')),
    CONSTRAINT domains_status_valid
        CHECK (status IN ('pending_verification', 'verified', 'degraded', 'failing')),
    CONSTRAINT domains_consecutive_failures_valid CHECK (consecutive_failures >= 0)
);

CREATE INDEX domains_tenant_name_idx ON domains (tenant_id, name);
CREATE UNIQUE INDEX domains_one_primary_per_tenant ON domains (tenant_id) WHERE is_primary;
CREATE INDEX domains_next_check_idx ON domains (next_check_at);

CREATE TRIGGER domains_set_updated_at BEFORE UPDATE ON domains
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE domains IS
    'Mail domains of tenants: what Stalwart says to publish, the DNS verifier''s results and the status with hysteresis.';
COMMENT ON COLUMN domains.name IS
    'Normalised once: lower case, no trailing dot, IDNA as punycode (A-labels). Unique across tenants.';
COMMENT ON COLUMN domains.stalwart_id IS
    'x:Domain id in Stalwart; NULL until the ensure job has run.';
COMMENT ON COLUMN domains.is_primary IS
    'The tenant''s primary domain (at most one per tenant); mirrors tenants.primary_domain while that column exists.';
COMMENT ON COLUMN domains.dmarc_policy IS
    'none | quarantine | reject: the p= of the DMARC record the tenant should publish.';
COMMENT ON COLUMN domains.dmarc_rua IS
    'Aggregate report addresses (rua=mailto:...): a JSON array of normalised e-mail addresses.';
COMMENT ON COLUMN domains.ownership_token IS
    'TXT value proving control of the domain, published at the apex (exact match after joining strings).';
COMMENT ON COLUMN domains.status IS
    'pending_verification | verified | degraded | failing (hysteresis: see DOMAIN_FAILING_AFTER).';
COMMENT ON COLUMN domains.published IS
    'MX, SPF and DKIM records from Stalwart''s dnsZoneFile: [{type, name, value}], read by the ensure job.';
COMMENT ON COLUMN domains.records IS
    'Results of the last check: [{type, name, expected, actual, status, reason}].';
COMMENT ON COLUMN domains.consecutive_failures IS
    'Checks in a row with a failed record (UNKNOWN never counts).';

-- Backfill: each tenant's primary domain becomes its primary row (names already lower case,
-- trailing dot removed by the old validation).
INSERT INTO domains (tenant_id, name, stalwart_id, is_primary)
SELECT id, primary_domain, stalwart_domain_id, true
  FROM tenants
 WHERE primary_domain IS NOT NULL
ON CONFLICT (name) DO NOTHING;

-- While `tenants.primary_domain` exists, writes to it (by any release) move the primary row:
-- a new name is added (unless another tenant holds it) and becomes the only primary row;
-- clearing the column leaves the tenant without a primary row.
CREATE FUNCTION domains_follow_primary_domain() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.primary_domain IS NOT NULL THEN
        INSERT INTO domains (tenant_id, name) VALUES (NEW.id, NEW.primary_domain)
        ON CONFLICT (name) DO NOTHING;
    END IF;
    UPDATE domains SET is_primary = false
     WHERE tenant_id = NEW.id AND is_primary
       AND name IS DISTINCT FROM NEW.primary_domain;
    UPDATE domains SET is_primary = true
     WHERE tenant_id = NEW.id AND name = NEW.primary_domain AND NOT is_primary;
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_primary_domain_to_domains
    AFTER INSERT OR UPDATE OF primary_domain ON tenants
    FOR EACH ROW EXECUTE FUNCTION domains_follow_primary_domain();
