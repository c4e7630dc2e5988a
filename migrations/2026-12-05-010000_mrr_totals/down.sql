DROP TRIGGER tenants_mrr_totals_partner ON tenants;
DROP FUNCTION tenants_keep_mrr_totals();
DROP TRIGGER subscriptions_mrr_totals_update ON subscriptions;
DROP TRIGGER subscriptions_mrr_totals_insert_delete ON subscriptions;
DROP FUNCTION subscriptions_keep_mrr_totals();
DROP FUNCTION mrr_totals_add(uuid, text, text, bigint, bigint);
DROP TABLE mrr_totals;
DROP FUNCTION subscription_monthly_minor(text, bigint);
DROP FUNCTION subscription_pays(text);
