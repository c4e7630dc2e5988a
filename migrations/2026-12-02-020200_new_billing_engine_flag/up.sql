-- The flag that gates billing in the graph (with Stripe configured). On for every tenant by
-- default; operators narrow it with rules or turn it off.
INSERT INTO feature_flags (key, description, default_value, enabled, rules)
VALUES ('new_billing_engine',
        'Billing in the graph: subscription, invoices, billing details, payment method, payouts.',
        true, true, '[]')
ON CONFLICT (key) DO NOTHING;
