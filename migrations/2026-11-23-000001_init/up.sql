-- Initial schema of the platform-api control plane (PostgreSQL 15).
--
-- Conventions:
--   * Primary keys are uuid (gen_random_uuid(), built in since PG 13), except
--     audit_events which uses a bigint identity for cheap append + ordering.
--   * Every timestamp is timestamptz; created_at/updated_at default to now().
--   * updated_at is maintained by the set_updated_at() trigger, not by the app.
--   * CHECK constraints carry explicit names so the app can map violations to
--     user-facing errors by constraint name.
--   * Money is stored as integer minor units (bigint) plus an ISO 4217 code.

-- ---------------------------------------------------------------------------
-- Trigger functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Only bump on a real change, so no-op updates (e.g. idempotent upserts)
    -- do not disturb optimistic-concurrency checks based on updated_at.
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at = now() when the row changed.';

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The single permitted mutation: ON DELETE SET NULL of actor_user_id when
    -- the referenced user is deleted (actor_email keeps who it was). Every
    -- other column must stay identical.
    IF TG_OP = 'UPDATE'
       AND OLD.actor_user_id IS NOT NULL
       AND NEW.actor_user_id IS NULL
       AND (to_jsonb(NEW) - 'actor_user_id') = (to_jsonb(OLD) - 'actor_user_id')
    THEN
        RETURN NEW;
    END IF;

    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events can only be inserted.';
END;
$$;

COMMENT ON FUNCTION audit_events_append_only() IS
    'BEFORE UPDATE OR DELETE row trigger on audit_events: rejects every change '
    'except nulling actor_user_id (ON DELETE SET NULL from users).';

-- ---------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------

CREATE TABLE users (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    authentik_subject text        NOT NULL,
    email             text        NOT NULL,
    name              text        NOT NULL DEFAULT '',
    platform_admin    boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_authentik_subject_key UNIQUE (authentik_subject),
    CONSTRAINT users_authentik_subject_length
        CHECK (char_length(authentik_subject) BETWEEN 1 AND 255),
    CONSTRAINT users_email_length CHECK (char_length(email) <= 320)
);

CREATE INDEX users_lower_email_idx ON users (lower(email));

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE users IS
    'People who can sign in. Identity lives in Authentik; this is the local projection.';
COMMENT ON COLUMN users.authentik_subject IS
    'Stable OIDC subject ("sub" claim) issued by Authentik; the identity key for login.';
COMMENT ON COLUMN users.email IS
    'Email as last seen from the identity provider; informational, not unique (look up via lower(email)).';
COMMENT ON COLUMN users.platform_admin IS
    'Operator of the whole platform: bypasses tenant and partner scoping.';

-- ---------------------------------------------------------------------------
-- partners
-- ---------------------------------------------------------------------------

CREATE TABLE partners (
    id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    slug         text          NOT NULL,
    name         text          NOT NULL,
    domain       text          NULL,
    status       text          NOT NULL DEFAULT 'active',
    margin_pct   numeric(5, 2) NOT NULL DEFAULT 0,
    contact_info jsonb         NOT NULL DEFAULT '{}',
    billing_info jsonb         NOT NULL DEFAULT '{}',
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now(),

    CONSTRAINT partners_slug_key UNIQUE (slug),
    CONSTRAINT partners_slug_format
        CHECK (slug ~ '^[a-z0-9](-?[a-z0-9])*$' AND char_length(slug) BETWEEN 3 AND 63),
    CONSTRAINT partners_name_length
        CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT partners_domain_format
        CHECK (domain = lower(domain) AND char_length(domain) BETWEEN 1 AND 253),
    CONSTRAINT partners_status_valid
        CHECK (status IN ('active', 'suspended', 'terminated')),
    CONSTRAINT partners_margin_pct_range
        CHECK (margin_pct BETWEEN 0 AND 100),
    CONSTRAINT partners_contact_info_object
        CHECK (jsonb_typeof(contact_info) = 'object'),
    CONSTRAINT partners_billing_info_object
        CHECK (jsonb_typeof(billing_info) = 'object')
);

CREATE INDEX partners_status_idx ON partners (status);

CREATE TRIGGER partners_set_updated_at
    BEFORE UPDATE ON partners
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE partners IS
    'Resellers that bring and manage tenants. Never hard-deleted: set status = ''terminated'' instead.';
COMMENT ON COLUMN partners.slug IS
    'URL-safe unique handle: lower-case alphanumerics and single hyphens, 3-63 chars.';
COMMENT ON COLUMN partners.domain IS
    'Partner''s own (white-label) domain, lower-case; NULL if none.';
COMMENT ON COLUMN partners.status IS
    'active | suspended | terminated. terminated replaces deletion.';
COMMENT ON COLUMN partners.margin_pct IS
    'Reseller margin in percent (0.00-100.00) applied to tenant pricing.';
COMMENT ON COLUMN partners.contact_info IS
    'Free-form JSON object with contact details (names, emails, phones).';
COMMENT ON COLUMN partners.billing_info IS
    'Free-form JSON object with invoicing details (address, VAT id). No secrets.';

-- ---------------------------------------------------------------------------
-- tenants
-- ---------------------------------------------------------------------------

CREATE TABLE tenants (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug               text        NOT NULL,
    name               text        NOT NULL,
    status             text        NOT NULL DEFAULT 'pending',
    plan               text        NOT NULL DEFAULT 'standard',
    partner_id         uuid        NULL REFERENCES partners (id) ON DELETE RESTRICT,
    primary_domain     text        NULL,
    billing_info       jsonb       NOT NULL DEFAULT '{}',
    authentik_group_id text        NULL,
    ocis_space_id      text        NULL,
    stalwart_domain_id text        NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT tenants_slug_key UNIQUE (slug),
    CONSTRAINT tenants_slug_format
        CHECK (slug ~ '^[a-z0-9](-?[a-z0-9])*$' AND char_length(slug) BETWEEN 3 AND 63),
    CONSTRAINT tenants_name_length
        CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT tenants_status_valid
        CHECK (status IN ('pending', 'active', 'suspended', 'terminated')),
    CONSTRAINT tenants_plan_format
        CHECK (plan ~ '^[a-z0-9_-]{1,32}$'),
    CONSTRAINT tenants_primary_domain_format
        CHECK (primary_domain = lower(primary_domain)
               AND char_length(primary_domain) BETWEEN 1 AND 253),
    CONSTRAINT tenants_billing_info_object
        CHECK (jsonb_typeof(billing_info) = 'object')
);

CREATE INDEX tenants_partner_id_idx ON tenants (partner_id);
CREATE INDEX tenants_status_idx ON tenants (status);
CREATE INDEX tenants_created_at_id_idx ON tenants (created_at, id);

CREATE TRIGGER tenants_set_updated_at
    BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE tenants IS
    'Customer organisations (the unit of isolation). Each is provisioned in Authentik, oCIS and Stalwart.';
COMMENT ON COLUMN tenants.slug IS
    'URL-safe unique handle: lower-case alphanumerics and single hyphens, 3-63 chars.';
COMMENT ON COLUMN tenants.status IS
    'pending (provisioning) | active | suspended | terminated.';
COMMENT ON COLUMN tenants.plan IS
    'Plan code (e.g. standard); the billed plan lives in subscriptions.';
COMMENT ON COLUMN tenants.partner_id IS
    'Reselling partner, NULL for direct customers. ON DELETE RESTRICT: partners are never deleted, so an accidental delete fails loudly.';
COMMENT ON COLUMN tenants.primary_domain IS
    'Tenant''s main (mail) domain, lower-case; NULL until configured.';
COMMENT ON COLUMN tenants.billing_info IS
    'Free-form JSON object with invoicing details (address, VAT id). No secrets.';
COMMENT ON COLUMN tenants.authentik_group_id IS
    'Id of the tenant''s group in Authentik; NULL until provisioned.';
COMMENT ON COLUMN tenants.ocis_space_id IS
    'Id of the tenant''s space in ownCloud Infinite Scale; NULL until provisioned.';
COMMENT ON COLUMN tenants.stalwart_domain_id IS
    'Id of the tenant''s domain in the Stalwart mail server; NULL until provisioned.';

-- ---------------------------------------------------------------------------
-- memberships
-- ---------------------------------------------------------------------------

CREATE TABLE memberships (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (user_id, tenant_id),
    CONSTRAINT memberships_role_valid CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT memberships_status_valid CHECK (status IN ('active', 'suspended'))
);

CREATE INDEX memberships_tenant_id_idx ON memberships (tenant_id);

CREATE TRIGGER memberships_set_updated_at
    BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE memberships IS
    'A user''s membership of a tenant, with the role they hold there.';
COMMENT ON COLUMN memberships.role IS
    'owner | admin | member (within the tenant).';
COMMENT ON COLUMN memberships.status IS
    'active | suspended. A suspended member keeps the row but has no access.';

-- ---------------------------------------------------------------------------
-- partner_staff
-- ---------------------------------------------------------------------------

CREATE TABLE partner_staff (
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    partner_id   uuid        NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    access_level text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (user_id, partner_id),
    CONSTRAINT partner_staff_access_level_valid CHECK (access_level IN ('admin', 'member'))
);

CREATE INDEX partner_staff_partner_id_idx ON partner_staff (partner_id);

CREATE TRIGGER partner_staff_set_updated_at
    BEFORE UPDATE ON partner_staff
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE partner_staff IS
    'Users working for a partner; they can manage that partner''s tenants.';
COMMENT ON COLUMN partner_staff.access_level IS
    'admin (manages partner and staff) | member (manages tenants).';

-- ---------------------------------------------------------------------------
-- subscriptions
-- ---------------------------------------------------------------------------

CREATE TABLE subscriptions (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid        NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    plan                   text        NOT NULL,
    status                 text        NOT NULL,
    seats                  integer     NOT NULL,
    price_minor            bigint      NOT NULL,
    currency               text        NOT NULL,
    billing_cycle          text        NOT NULL,
    stripe_customer_id     text        NULL,
    stripe_subscription_id text        NULL,
    current_period_end     timestamptz NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT subscriptions_tenant_id_key UNIQUE (tenant_id),
    CONSTRAINT subscriptions_stripe_subscription_id_key UNIQUE (stripe_subscription_id),
    CONSTRAINT subscriptions_status_valid
        CHECK (status IN ('incomplete', 'trialing', 'active', 'past_due', 'canceled', 'unpaid')),
    CONSTRAINT subscriptions_seats_nonnegative CHECK (seats >= 0),
    CONSTRAINT subscriptions_price_minor_nonnegative CHECK (price_minor >= 0),
    CONSTRAINT subscriptions_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT subscriptions_billing_cycle_valid CHECK (billing_cycle IN ('monthly', 'yearly'))
);

CREATE TRIGGER subscriptions_set_updated_at
    BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE subscriptions IS
    'The current subscription of a tenant (at most one per tenant), mirrored from Stripe.';
COMMENT ON COLUMN subscriptions.tenant_id IS
    'Unique: one current subscription per tenant. ON DELETE RESTRICT so billing history never vanishes with a tenant.';
COMMENT ON COLUMN subscriptions.status IS
    'Stripe subscription status: incomplete | trialing | active | past_due | canceled | unpaid.';
COMMENT ON COLUMN subscriptions.seats IS
    'Number of licensed user seats.';
COMMENT ON COLUMN subscriptions.price_minor IS
    'Price per billing cycle in integer minor units of currency (e.g. cents); never floating point.';
COMMENT ON COLUMN subscriptions.currency IS
    'ISO 4217 currency code, upper-case (e.g. EUR).';
COMMENT ON COLUMN subscriptions.stripe_customer_id IS
    'Stripe customer id (cus_...); NULL if not billed through Stripe.';
COMMENT ON COLUMN subscriptions.stripe_subscription_id IS
    'Stripe subscription id (sub_...), unique; NULL if not billed through Stripe.';
COMMENT ON COLUMN subscriptions.current_period_end IS
    'End of the current paid period as reported by Stripe.';

-- ---------------------------------------------------------------------------
-- audit_events
-- ---------------------------------------------------------------------------

CREATE TABLE audit_events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     uuid        NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    partner_id    uuid        NULL REFERENCES partners (id) ON DELETE RESTRICT,
    actor_user_id uuid        NULL REFERENCES users (id) ON DELETE SET NULL,
    actor_email   text        NULL,
    action        text        NOT NULL,
    target_type   text        NOT NULL,
    target_id     text        NULL,
    outcome       text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}',
    request_id    text        NULL,
    ip            text        NULL,
    at            timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT audit_events_action_format
        CHECK (action ~ '^[a-zA-Z][a-zA-Z0-9_.]{0,99}$'),
    CONSTRAINT audit_events_outcome_valid
        CHECK (outcome IN ('success', 'denied', 'failure')),
    CONSTRAINT audit_events_details_object
        CHECK (jsonb_typeof(details) = 'object')
);

CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_tenant_id_at_idx ON audit_events (tenant_id, at DESC, id DESC);
CREATE INDEX audit_events_partner_id_at_idx ON audit_events (partner_id, at DESC, id DESC);
CREATE INDEX audit_events_actor_user_id_idx ON audit_events (actor_user_id);
CREATE INDEX audit_events_action_at_idx ON audit_events (action, at DESC, id DESC);

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

COMMENT ON TABLE audit_events IS
    'Append-only audit log (UPDATE/DELETE rejected by trigger). details must never contain secrets.';
COMMENT ON COLUMN audit_events.id IS
    'Monotonic identity; tie-breaker for ordering by at.';
COMMENT ON COLUMN audit_events.tenant_id IS
    'Tenant the event concerns, if any. ON DELETE RESTRICT keeps the trail intact.';
COMMENT ON COLUMN audit_events.partner_id IS
    'Partner the event concerns, if any. ON DELETE RESTRICT keeps the trail intact.';
COMMENT ON COLUMN audit_events.actor_user_id IS
    'Acting user; set NULL if the user is deleted (actor_email keeps who it was). NULL also for system actions.';
COMMENT ON COLUMN audit_events.actor_email IS
    'Actor''s email at the time of the event, kept even if the user is deleted.';
COMMENT ON COLUMN audit_events.action IS
    'Dotted action name, e.g. tenant.create or membership.role_change.';
COMMENT ON COLUMN audit_events.target_type IS
    'Kind of object acted on, e.g. tenant, user, subscription.';
COMMENT ON COLUMN audit_events.target_id IS
    'Id of the object acted on, as text (uuid or external id).';
COMMENT ON COLUMN audit_events.outcome IS
    'success | denied (authorization refused) | failure (error).';
COMMENT ON COLUMN audit_events.details IS
    'JSON object with event specifics. Must never contain secrets (tokens, passwords, keys).';
COMMENT ON COLUMN audit_events.request_id IS
    'Correlation id of the originating API request.';
COMMENT ON COLUMN audit_events.ip IS
    'Client IP address as seen by the API (textual).';
COMMENT ON COLUMN audit_events.at IS
    'When the event happened.';
