-- The plan catalogue and its prices; tenants.plan becomes a reference to a plan.
--
-- Expand step: the catalogue is created from every plan string in use (tenants,
-- subscriptions) plus `standard` (the default of tenants.plan), with the documented starting
-- limits below, which operators then adjust with `upsertPlan`. The foreign key is added
-- NOT VALID and validated at once (the backfill just made every value valid). The column keeps
-- its name and type, so the release before this one keeps working.

CREATE TABLE plans (
    key                 text        PRIMARY KEY,
    name                text        NOT NULL,
    seats_included      integer     NOT NULL DEFAULT 5,
    mailbox_quota_bytes bigint      NOT NULL DEFAULT 5368709120,
    storage_quota_bytes bigint      NOT NULL DEFAULT 10737418240,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT plans_key_format CHECK (key ~ '^[a-z0-9_-]{1,32}$'),
    CONSTRAINT plans_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT plans_seats_included_nonnegative CHECK (seats_included >= 0),
    CONSTRAINT plans_mailbox_quota_nonnegative CHECK (mailbox_quota_bytes >= 0),
    CONSTRAINT plans_storage_quota_nonnegative CHECK (storage_quota_bytes >= 0)
);
CREATE TRIGGER plans_set_updated_at
    BEFORE UPDATE ON plans
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON TABLE plans IS 'The plan catalogue (operators): seats and quotas a plan includes.';
COMMENT ON COLUMN plans.key IS 'Stable handle (tenants.plan references it); never renamed.';
COMMENT ON COLUMN plans.seats_included IS 'Seats a tenant on the plan has without a live subscription.';
COMMENT ON COLUMN plans.mailbox_quota_bytes IS 'Mailbox quota per member, bytes.';
COMMENT ON COLUMN plans.storage_quota_bytes IS 'File storage quota per tenant, bytes.';

CREATE TABLE prices (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_key          text        NOT NULL REFERENCES plans (key) ON DELETE RESTRICT,
    currency          text        NOT NULL,
    billing_cycle     text        NOT NULL,
    unit_amount_minor bigint      NOT NULL,
    stripe_price_id   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT prices_plan_currency_cycle_key UNIQUE (plan_key, currency, billing_cycle),
    CONSTRAINT prices_stripe_price_id_key UNIQUE (stripe_price_id),
    CONSTRAINT prices_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT prices_billing_cycle_valid CHECK (billing_cycle IN ('monthly', 'yearly')),
    CONSTRAINT prices_unit_amount_nonnegative CHECK (unit_amount_minor >= 0),
    CONSTRAINT prices_stripe_price_id_format CHECK (stripe_price_id ~ '^price_[A-Za-z0-9_]{1,200}$')
);
CREATE TRIGGER prices_set_updated_at
    BEFORE UPDATE ON prices
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON TABLE prices IS 'The price of a plan per currency and billing cycle, per seat.';
COMMENT ON COLUMN prices.unit_amount_minor IS 'Price of one seat per cycle, in the currency''s minor units.';
COMMENT ON COLUMN prices.stripe_price_id IS 'The Stripe Price (price_...) subscriptions use; null until set.';

INSERT INTO plans (key, name)
SELECT key, initcap(replace(replace(key, '-', ' '), '_', ' '))
  FROM (SELECT plan AS key FROM tenants
        UNION SELECT plan FROM subscriptions
        UNION SELECT 'standard') used
 WHERE key ~ '^[a-z0-9_-]{1,32}$';

ALTER TABLE tenants ADD CONSTRAINT tenants_plan_fkey
    FOREIGN KEY (plan) REFERENCES plans (key) ON DELETE RESTRICT NOT VALID;
ALTER TABLE tenants VALIDATE CONSTRAINT tenants_plan_fkey;
COMMENT ON COLUMN tenants.plan IS 'The plan (plans.key) the tenant is on.';
