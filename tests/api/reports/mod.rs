//! Tenant health in the graph, partner and platform reports, saved reports.

mod health;
mod mfa_coverage;
mod mrr_totals;
mod partner;
mod saved;

use diesel_async::RunQueryDsl;

use crate::support::World;

/// Runs `sql` on the world's database (the stimulus of a test: state the rules read).
pub async fn exec(w: &World, sql: &str) {
    let mut conn = w.db.connect().await;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A subscription for tenant `slug`.
pub async fn subscribe(
    w: &World,
    slug: &str,
    plan: &str,
    status: &str,
    price: i64,
    currency: &str,
    cycle: &str,
) {
    exec(
        w,
        &format!(
            "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
             SELECT id, '{plan}', '{status}', 10, {price}, '{currency}', '{cycle}' FROM tenants WHERE slug = '{slug}'"
        ),
    )
    .await;
}
