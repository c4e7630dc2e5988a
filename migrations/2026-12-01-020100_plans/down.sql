COMMENT ON COLUMN tenants.plan IS
    'Plan code (e.g. standard); the billed plan lives in subscriptions.';
ALTER TABLE tenants DROP CONSTRAINT tenants_plan_fkey;
DROP TABLE prices;
DROP TABLE plans;
