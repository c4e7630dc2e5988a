-- Stripe webhook events, stored once by id (a replay is a no-op) and applied by a job; the
-- Stripe customer id kept on the tenant; what a subscription needs to ignore stale events.
-- Expand only: new nullable/defaulted columns and a new table.

ALTER TABLE tenants ADD COLUMN stripe_customer_id text;
CREATE UNIQUE INDEX tenants_stripe_customer_id_key
    ON tenants (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;
COMMENT ON COLUMN tenants.stripe_customer_id IS
    'Stripe customer id (cus_...), once the stripe_customer provisioning step created it.';

-- Tenants provisioned before the column existed: the id is on their provisioning step.
UPDATE tenants t
   SET stripe_customer_id = s.upstream_id
  FROM provisioning_steps s
 WHERE s.tenant_id = t.id AND s.step = 'stripe_customer' AND s.upstream_id IS NOT NULL;

ALTER TABLE subscriptions
    ADD COLUMN cancel_at_period_end boolean NOT NULL DEFAULT false,
    ADD COLUMN stripe_synced_at timestamptz;
COMMENT ON COLUMN subscriptions.stripe_synced_at IS
    'Creation time of the newest Stripe event applied; older events never move the row back.';

CREATE TABLE stripe_events (
    id           text        PRIMARY KEY,
    type         text        NOT NULL,
    created      timestamptz NOT NULL,
    payload      jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'received',
    error        text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    CONSTRAINT stripe_events_id_format CHECK (id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
    CONSTRAINT stripe_events_type_format CHECK (type ~ '^[a-z0-9_.]{1,100}$'),
    CONSTRAINT stripe_events_status_valid
        CHECK (status IN ('received', 'applied', 'ignored', 'stale', 'failed')),
    CONSTRAINT stripe_events_payload_object CHECK (jsonb_typeof(payload) = 'object')
);
COMMENT ON TABLE stripe_events IS
    'Every verified Stripe webhook event, once per id; a job applies it (status says how).';
COMMENT ON COLUMN stripe_events.created IS 'The event''s own creation time (Stripe''s `created`).';
COMMENT ON COLUMN stripe_events.status IS
    'received | applied | ignored (a type we do not handle) | stale (older than what is applied) | failed.';
