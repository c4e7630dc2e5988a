ALTER TABLE tenants DROP COLUMN stripe_payment_method_id;
DROP TABLE billing_details;
