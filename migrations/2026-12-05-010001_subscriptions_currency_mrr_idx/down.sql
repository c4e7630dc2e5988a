DROP INDEX CONCURRENTLY IF EXISTS subscriptions_currency_mrr_idx;
