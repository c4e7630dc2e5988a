-- Performance (issue 24): the platform's top tenants per currency read the subscriptions in
-- MRR order (an index scan per currency that stops after the first `first` rows and their
-- ties) instead of ranking every subscription of the currency.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_currency_mrr_idx
    ON subscriptions (currency, subscription_monthly_minor(billing_cycle, price_minor) DESC);
