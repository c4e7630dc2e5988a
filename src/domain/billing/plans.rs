//! The plan catalogue: plans (seats and quotas included) and their prices per currency and
//! billing cycle, and [`limits_for`], which other areas (members, storage) read seats and
//! quotas through.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{BillingCycle, SubscriptionStatus};
use crate::db::schema::{plans, prices, subscriptions, tenants};
use crate::domain::ids::TenantId;
use crate::error::{AppError, AppResult};

pub use super::plan_changes::{NewPrice, PlanInput, set_price, upsert};

/// A `plans` row.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    /// Stable handle (what `tenants.plan` holds).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Seats a tenant has without a live subscription.
    pub seats_included: i32,
    /// Mailbox quota per member, bytes.
    pub mailbox_quota_bytes: i64,
    /// File storage quota per tenant, bytes.
    pub storage_quota_bytes: i64,
}

/// A `prices` row: one seat of a plan for one cycle in one currency.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = prices)]
pub struct PriceRow {
    /// The plan.
    pub plan_key: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// How often it is billed.
    pub billing_cycle: BillingCycle,
    /// Price of one seat per cycle, minor units.
    pub unit_amount_minor: i64,
    /// The Stripe Price subscriptions use.
    pub stripe_price_id: Option<String>,
}

/// Seats and quotas a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Seats: the live subscription's, else the plan's included seats.
    pub seats_included: i32,
    /// Mailbox quota per member, bytes.
    pub mailbox_quota_bytes: i64,
    /// File storage quota of the tenant, bytes.
    pub storage_quota_bytes: i64,
}

/// The statuses in which a subscription's seats are the tenant's seats.
pub const LIVE: &[SubscriptionStatus] = &[
    SubscriptionStatus::Incomplete,
    SubscriptionStatus::Trialing,
    SubscriptionStatus::Active,
    SubscriptionStatus::PastDue,
    SubscriptionStatus::Paused,
];

/// Seats and quotas of each tenant in `tenant_ids`, in one statement whatever their number.
/// Seats are the live subscription's seats when there is one ([`LIVE`]), else the plan's
/// `seats_included`. Tenants that do not exist are absent from the map.
pub async fn limits_for(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> AppResult<HashMap<TenantId, PlanLimits>> {
    if tenant_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(TenantId, i32, Option<i32>, i64, i64)> = tenants::table
        .inner_join(plans::table)
        .left_join(
            subscriptions::table.on(subscriptions::tenant_id
                .eq(tenants::id)
                .and(subscriptions::status.eq_any(LIVE))),
        )
        .filter(tenants::id.eq_any(tenant_ids))
        .select((
            tenants::id,
            plans::seats_included,
            subscriptions::seats.nullable(),
            plans::mailbox_quota_bytes,
            plans::storage_quota_bytes,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, included, live, mailbox, storage)| {
            let limits = PlanLimits {
                seats_included: live.unwrap_or(included),
                mailbox_quota_bytes: mailbox,
                storage_quota_bytes: storage,
            };
            (id, limits)
        })
        .collect())
}

/// Every plan, by key.
pub async fn all(conn: &mut AsyncPgConnection) -> AppResult<Vec<PlanRow>> {
    Ok(plans::table
        .order(plans::key)
        .select(PlanRow::as_select())
        .load(conn)
        .await?)
}

/// The plans with these keys.
pub async fn by_keys(conn: &mut AsyncPgConnection, keys: &[String]) -> AppResult<Vec<PlanRow>> {
    Ok(plans::table
        .filter(plans::key.eq_any(keys))
        .select(PlanRow::as_select())
        .load(conn)
        .await?)
}

/// The prices of these plans, by plan, currency and cycle.
pub async fn prices_of(conn: &mut AsyncPgConnection, keys: &[String]) -> AppResult<Vec<PriceRow>> {
    Ok(prices::table
        .filter(prices::plan_key.eq_any(keys))
        .order((prices::plan_key, prices::currency, prices::billing_cycle))
        .select(PriceRow::as_select())
        .load(conn)
        .await?)
}

/// The plan `key`, or `BAD_USER_INPUT` on `field` when the catalogue has no such plan.
pub async fn require(conn: &mut AsyncPgConnection, key: &str, field: &str) -> AppResult<PlanRow> {
    let plan = crate::domain::values::Plan::parse(key, field)?;
    plans::table
        .find(plan.as_str())
        .select(PlanRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::bad_input(field, "no plan with this key in the catalogue"))
}
