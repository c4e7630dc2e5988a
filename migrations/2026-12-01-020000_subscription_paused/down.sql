UPDATE subscriptions SET status = 'unpaid' WHERE status = 'paused';
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_valid;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_valid
    CHECK (status IN ('incomplete', 'trialing', 'active', 'past_due', 'canceled', 'unpaid'));
