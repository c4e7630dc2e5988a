-- Performance (issues 20 and 24): monthly recurring revenue kept as it changes, instead of
-- summed over every subscription on every read. `mrr_totals` holds, per partner (NULL for
-- the platform's direct customers), plan and currency, the number of paying subscriptions and
-- their MRR; triggers on `subscriptions` (and on a tenant moving to another partner) keep it
-- in the same transaction as the change. The platform's MRR, revenue by plan, a partner's
-- MRR and the partners list's `mrr` read it instead of the subscriptions.
--
-- The two rules it sums live here, once, as SQL functions the reports also use:
-- which statuses pay (billing's `SubscriptionStatus::PAYING`; a test compares the two) and a
-- subscription's monthly amount (a yearly price counts a rounded twelfth).

CREATE FUNCTION subscription_pays(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT status IN ('active', 'trialing', 'past_due') $$;
COMMENT ON FUNCTION subscription_pays(text) IS
    'Whether a subscription of this status counts as revenue (SubscriptionStatus::PAYING).';

-- (p + 6) / 12 is round(p / 12.0) for the non-negative prices the table allows
-- (subscriptions_price_minor_nonnegative), in integers.
CREATE FUNCTION subscription_monthly_minor(billing_cycle text, price_minor bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE billing_cycle WHEN 'yearly' THEN (price_minor + 6) / 12 ELSE price_minor END $$;
COMMENT ON FUNCTION subscription_monthly_minor(text, bigint) IS
    'A subscription''s monthly recurring revenue in minor units: a yearly price counts a rounded twelfth.';

CREATE TABLE mrr_totals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id    uuid,
    plan          text   NOT NULL,
    currency      text   NOT NULL,
    subscriptions bigint NOT NULL,
    mrr_minor     bigint NOT NULL,
    CONSTRAINT mrr_totals_key UNIQUE NULLS NOT DISTINCT (partner_id, plan, currency),
    CONSTRAINT mrr_totals_positive CHECK (subscriptions > 0 AND mrr_minor >= 0)
);
COMMENT ON TABLE mrr_totals IS
    'Paying subscriptions and their MRR per partner, plan and currency, kept by triggers on subscriptions and tenants (never written by the application). A group with no paying subscription has no row.';
COMMENT ON COLUMN mrr_totals.id IS 'A surrogate key (a group is keyed by mrr_totals_key).';
COMMENT ON COLUMN mrr_totals.partner_id IS
    'The partner of the subscriptions'' tenants; NULL for the platform''s direct customers.';
COMMENT ON COLUMN mrr_totals.subscriptions IS 'How many paying subscriptions the group has.';
COMMENT ON COLUMN mrr_totals.mrr_minor IS
    'Their monthly recurring revenue in minor units (subscription_monthly_minor summed).';

-- Adds `n` subscriptions and `amount` to a group, or takes them away (both negative); a group
-- that reaches zero subscriptions is deleted. Taking away what a group does not hold means the
-- table is out of step with the subscriptions (the triggers were bypassed): that fails loudly
-- rather than report wrong figures. To rebuild it: in one transaction, LOCK subscriptions,
-- DELETE FROM mrr_totals, then the INSERT at the end of this migration.
CREATE FUNCTION mrr_totals_add(p_partner uuid, p_plan text, p_currency text, n bigint, amount bigint)
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF n > 0 THEN
        INSERT INTO mrr_totals AS m (partner_id, plan, currency, subscriptions, mrr_minor)
        VALUES (p_partner, p_plan, p_currency, n, amount)
        ON CONFLICT ON CONSTRAINT mrr_totals_key DO UPDATE
            SET subscriptions = m.subscriptions + EXCLUDED.subscriptions,
                mrr_minor = m.mrr_minor + EXCLUDED.mrr_minor;
        RETURN;
    END IF;
    UPDATE mrr_totals
       SET subscriptions = subscriptions + n, mrr_minor = mrr_minor + amount
     WHERE (partner_id = p_partner OR (p_partner IS NULL AND partner_id IS NULL))
       AND plan = p_plan AND currency = p_currency
       AND subscriptions + n > 0;
    IF FOUND THEN
        RETURN;
    END IF;
    DELETE FROM mrr_totals
     WHERE (partner_id = p_partner OR (p_partner IS NULL AND partner_id IS NULL))
       AND plan = p_plan AND currency = p_currency
       AND subscriptions + n = 0 AND mrr_minor + amount = 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'mrr_totals is out of step with subscriptions (partner %, plan %, currency %)',
            p_partner, p_plan, p_currency;
    END IF;
END $$;

CREATE FUNCTION subscriptions_keep_mrr_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    partner uuid;
BEGIN
    -- FOR SHARE: a tenant moving to another partner meanwhile waits for this transaction, or
    -- this one reads where it moved to (see tenants_keep_mrr_totals).
    SELECT t.partner_id INTO partner FROM tenants t
     WHERE t.id = CASE TG_OP WHEN 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END
       FOR SHARE;
    IF TG_OP IN ('UPDATE', 'DELETE') AND subscription_pays(OLD.status) THEN
        PERFORM mrr_totals_add(
            CASE WHEN TG_OP = 'UPDATE' AND OLD.tenant_id <> NEW.tenant_id
                 THEN (SELECT t.partner_id FROM tenants t WHERE t.id = OLD.tenant_id FOR SHARE)
                 ELSE partner END,
            OLD.plan, OLD.currency, -1,
            -subscription_monthly_minor(OLD.billing_cycle, OLD.price_minor));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND subscription_pays(NEW.status) THEN
        PERFORM mrr_totals_add(partner, NEW.plan, NEW.currency, 1,
                               subscription_monthly_minor(NEW.billing_cycle, NEW.price_minor));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER subscriptions_mrr_totals_insert_delete
    AFTER INSERT OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_keep_mrr_totals();
-- Only changes that move money: a renewal date or a Stripe sync touches nothing.
CREATE TRIGGER subscriptions_mrr_totals_update
    AFTER UPDATE ON subscriptions
    FOR EACH ROW
    WHEN ((OLD.status, OLD.plan, OLD.currency, OLD.billing_cycle, OLD.price_minor, OLD.tenant_id)
          IS DISTINCT FROM
          (NEW.status, NEW.plan, NEW.currency, NEW.billing_cycle, NEW.price_minor, NEW.tenant_id))
    EXECUTE FUNCTION subscriptions_keep_mrr_totals();

-- A tenant moving to another partner takes its paying subscriptions' MRR along.
CREATE FUNCTION tenants_keep_mrr_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT plan, currency, billing_cycle, price_minor FROM subscriptions
              WHERE tenant_id = NEW.id AND subscription_pays(status) LOOP
        PERFORM mrr_totals_add(OLD.partner_id, s.plan, s.currency, -1,
                               -subscription_monthly_minor(s.billing_cycle, s.price_minor));
        PERFORM mrr_totals_add(NEW.partner_id, s.plan, s.currency, 1,
                               subscription_monthly_minor(s.billing_cycle, s.price_minor));
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_mrr_totals_partner
    AFTER UPDATE OF partner_id ON tenants
    FOR EACH ROW WHEN (OLD.partner_id IS DISTINCT FROM NEW.partner_id)
    EXECUTE FUNCTION tenants_keep_mrr_totals();

-- The subscriptions so far (the triggers above already hold the table against writes).
INSERT INTO mrr_totals (partner_id, plan, currency, subscriptions, mrr_minor)
SELECT t.partner_id, s.plan, s.currency, count(*),
       sum(subscription_monthly_minor(s.billing_cycle, s.price_minor))
  FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
 WHERE subscription_pays(s.status)
 GROUP BY t.partner_id, s.plan, s.currency;
