//! The report statements. Each takes a [`Scope`] (a partner, or the platform) and answers in
//! one statement; months are calendar months in UTC, every month of the period listed (zeros
//! included), money per currency.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::mrr::{MONTHLY_MINOR, paying, totals_of};
use super::{Period, Scope};
use crate::domain::audit::Outcome;
use crate::domain::health::{self, Band, TenantHealth};
use crate::domain::ids::TenantId;
use crate::domain::tenants::TenantStatus;
use crate::error::AppResult;

/// Signups and churn of one month.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct MonthCohort {
    /// `YYYY-MM`.
    #[diesel(sql_type = Text)]
    pub month: String,
    /// Tenants created that month.
    #[diesel(sql_type = BigInt)]
    pub signups: i64,
    /// Tenants terminated that month (a successful `tenant.terminate` in the audit log).
    #[diesel(sql_type = BigInt)]
    pub churned: i64,
}

static COHORTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
WITH months AS (
  SELECT generate_series(date_trunc('month', $1 AT TIME ZONE 'UTC'),
                         ($2 AT TIME ZONE 'UTC') - interval '1 microsecond',
                         interval '1 month') AS month),
signups AS (
  SELECT date_trunc('month', t.created_at AT TIME ZONE 'UTC') AS month, count(*) AS n
    FROM tenants t
   WHERE ($3::uuid IS NULL OR t.partner_id = $3) AND t.created_at >= $1 AND t.created_at < $2
   GROUP BY 1),
churn AS (
  SELECT date_trunc('month', e.at AT TIME ZONE 'UTC') AS month, count(DISTINCT e.tenant_id) AS n
    FROM audit_events e JOIN tenants t ON t.id = e.tenant_id
   WHERE e.action = 'tenant.terminate' AND e.outcome = '{success}'
     AND ($3::uuid IS NULL OR t.partner_id = $3) AND e.at >= $1 AND e.at < $2
   GROUP BY 1)
SELECT to_char(m.month, 'YYYY-MM') AS month,
       coalesce(s.n, 0) AS signups, coalesce(c.n, 0) AS churned
  FROM months m LEFT JOIN signups s USING (month) LEFT JOIN churn c USING (month)
 ORDER BY m.month",
        success = Outcome::Success
    )
});

/// Signups and churn per month of `period` (one statement).
pub async fn cohorts(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    period: &Period,
) -> AppResult<Vec<MonthCohort>> {
    Ok(diesel::sql_query(COHORTS.as_str())
        .bind::<Timestamptz, _>(period.from)
        .bind::<Timestamptz, _>(period.to)
        .bind::<Nullable<SqlUuid>, _>(scope.partner())
        .load(conn)
        .await?)
}

/// Revenue of one plan in one currency.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct PlanRevenue {
    /// The plan's key.
    #[diesel(sql_type = Text)]
    pub plan: String,
    /// ISO currency.
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Paying subscriptions.
    #[diesel(sql_type = BigInt)]
    pub subscriptions: i64,
    /// Their monthly recurring revenue, minor units.
    #[diesel(sql_type = BigInt)]
    pub mrr_minor: i64,
}

/// MRR per plan and currency of the paying subscriptions (one statement, over
/// `mrr_totals`).
pub async fn revenue_by_plan(
    conn: &mut AsyncPgConnection,
    scope: Scope,
) -> AppResult<Vec<PlanRevenue>> {
    let sql = format!(
        "SELECT plan, currency, sum(subscriptions)::bigint AS subscriptions,
                sum(mrr_minor)::bigint AS mrr_minor
           FROM mrr_totals WHERE {scope}
          GROUP BY plan, currency
          ORDER BY plan, currency",
        scope = totals_of(scope.partner().is_none()),
    );
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<SqlUuid>, _>(scope.partner())
        .load(conn)
        .await?)
}

/// Platform MRR of one currency.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct CurrencyMrr {
    /// ISO currency.
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Monthly recurring revenue, minor units.
    #[diesel(sql_type = BigInt)]
    pub mrr_minor: i64,
}

/// MRR per currency (one statement, over `mrr_totals`).
pub async fn mrr(conn: &mut AsyncPgConnection, scope: Scope) -> AppResult<Vec<CurrencyMrr>> {
    let sql = format!(
        "SELECT currency, sum(mrr_minor)::bigint AS mrr_minor
           FROM mrr_totals WHERE {scope}
          GROUP BY currency ORDER BY currency",
        scope = totals_of(scope.partner().is_none()),
    );
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<SqlUuid>, _>(scope.partner())
        .load(conn)
        .await?)
}

/// A customer and its MRR in one currency.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct TopCustomer {
    /// The tenant.
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: TenantId,
    /// Its slug.
    #[diesel(sql_type = Text)]
    pub slug: String,
    /// Its name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// ISO currency.
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Monthly recurring revenue, minor units.
    #[diesel(sql_type = BigInt)]
    pub mrr_minor: i64,
}

/// The `first` customers by MRR in each currency, highest first (ties by slug; one statement).
/// The currencies come from `mrr_totals`; the platform's ranking reads
/// `subscriptions_currency_mrr_idx` in MRR order, a partner's ranks its own tenants'.
pub async fn top_customers(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    first: i64,
) -> AppResult<Vec<TopCustomer>> {
    let ranked = if scope.partner().is_none() {
        "subscriptions s JOIN tenants t ON t.id = s.tenant_id
          WHERE $1::uuid IS NULL"
    } else {
        "tenants t JOIN subscriptions s ON s.tenant_id = t.id
          WHERE t.partner_id = $1"
    };
    let sql = format!(
        "SELECT x.tenant_id, x.slug, x.name, c.currency, x.mrr_minor
           FROM (SELECT DISTINCT currency FROM mrr_totals WHERE {scope}) c,
                LATERAL (SELECT t.id AS tenant_id, t.slug, t.name, {monthly} AS mrr_minor
                           FROM {ranked}
                            AND s.currency = c.currency AND s.status = ANY($2)
                          ORDER BY 4 DESC, t.slug
                          LIMIT $3) x
          ORDER BY c.currency, x.mrr_minor DESC, x.slug",
        scope = totals_of(scope.partner().is_none()),
        monthly = MONTHLY_MINOR,
    );
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<SqlUuid>, _>(scope.partner())
        .bind::<Array<Text>, _>(paying())
        .bind::<BigInt, _>(first)
        .load(conn)
        .await?)
}

/// The tenants of one health band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCohort {
    /// The band.
    pub band: Band,
    /// Its tenants (slug, name, health), lowest score first.
    pub tenants: Vec<(String, String, TenantHealth)>,
}

#[derive(QueryableByName)]
struct TenantLine {
    #[diesel(sql_type = SqlUuid)]
    id: TenantId,
    #[diesel(sql_type = Text)]
    slug: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// The scope's tenants that are not terminated, by health band (every band listed, empty or
/// not): one statement for the tenants plus the health area's fixed statements.
pub async fn health_cohorts(
    conn: &mut AsyncPgConnection,
    scope: Scope,
) -> AppResult<Vec<HealthCohort>> {
    let tenants: Vec<TenantLine> = diesel::sql_query(
        "SELECT id, slug, name FROM tenants
          WHERE status <> $2 AND ($1::uuid IS NULL OR partner_id = $1)",
    )
    .bind::<Nullable<SqlUuid>, _>(scope.partner())
    .bind::<Text, _>(TenantStatus::Terminated)
    .load(conn)
    .await?;
    let ids: Vec<TenantId> = tenants.iter().map(|t| t.id).collect();
    let mut healths = health::for_tenants(conn, &ids).await?;
    let mut by_band: BTreeMap<&'static str, Vec<(String, String, TenantHealth)>> = BTreeMap::new();
    for t in tenants {
        if let Some(h) = healths.remove(&t.id) {
            by_band
                .entry(h.health.band.as_str())
                .or_default()
                .push((t.slug, t.name, h));
        }
    }
    Ok(Band::ALL
        .iter()
        .map(|band| {
            let mut tenants = by_band.remove(band.as_str()).unwrap_or_default();
            tenants.sort_by(|a, b| a.2.health.score.cmp(&b.2.health.score).then(a.0.cmp(&b.0)));
            HealthCohort {
                band: *band,
                tenants,
            }
        })
        .collect())
}
