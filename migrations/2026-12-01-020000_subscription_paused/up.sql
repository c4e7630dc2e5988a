-- Stripe's `paused` subscription status (a trial that ended without a payment method) gets a
-- counterpart here. Expand only: one more allowed value.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_valid;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_valid
    CHECK (status IN ('incomplete', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'));
