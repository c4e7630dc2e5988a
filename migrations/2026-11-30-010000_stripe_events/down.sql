DROP TABLE stripe_events;
ALTER TABLE subscriptions DROP COLUMN stripe_synced_at, DROP COLUMN cancel_at_period_end;
DROP INDEX tenants_stripe_customer_id_key;
ALTER TABLE tenants DROP COLUMN stripe_customer_id;
