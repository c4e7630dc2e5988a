//! A tenant's Stripe subscription, driven from here: created by the `stripe_subscription`
//! provisioning step (after the customer), changed when the plan or the seats change (Stripe
//! prorates), cancelled at the period's end when the tenant is terminated. Changes and
//! cancellations are jobs ([`JOB_KIND`]) queued in the transaction of the change that needs
//! them; every answer of Stripe is mirrored onto the `subscriptions` row ([`mirror`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use super::plans::{LIVE, PlanRow};
use super::stripe_events::status_of;
use super::{BillingCycle, SubscriptionStatus};
use crate::db::schema::{memberships, plans, prices, subscriptions, tenants};
use crate::domain::ids::TenantId;
use crate::domain::jobs::{self, NewJob};
use crate::domain::members::MembershipStatus;
use crate::error::AppResult;
use crate::upstream::stripe::StripeSubscription;

/// The job kind that changes or cancels a subscription in Stripe.
pub const JOB_KIND: &str = "billing_subscription";

/// Attempts of a subscription job.
pub const JOB_ATTEMPTS: u32 = 8;

/// The currency a new subscription is billed in.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// The cycle a new subscription is billed in.
pub const DEFAULT_CYCLE: BillingCycle = BillingCycle::Monthly;

/// What a subscription job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SubscriptionJob {
    /// Move the subscription to `plan` with `seats` (Stripe prorates).
    Change {
        /// The tenant.
        tenant: TenantId,
        /// The plan's key.
        plan: String,
        /// Seats.
        seats: i32,
    },
    /// Cancel at the end of the current period.
    Cancel {
        /// The tenant.
        tenant: TenantId,
    },
    /// Write the tenant's billing details onto its Stripe customer (as they are when the job
    /// runs, so the latest change wins).
    PushCustomerDetails {
        /// The tenant.
        tenant: TenantId,
    },
    /// Make a card the default of the tenant's Stripe customer (after a SetupIntent
    /// succeeded).
    SetDefaultCard {
        /// The tenant.
        tenant: TenantId,
        /// `pm_…`.
        payment_method: String,
    },
}

/// Queues `job` (in the caller's transaction).
pub async fn queue(conn: &mut AsyncPgConnection, job: &SubscriptionJob) -> AppResult<()> {
    let payload = serde_json::to_value(job).expect("a subscription job serializes");
    jobs::enqueue(
        conn,
        &[NewJob {
            kind: JOB_KIND,
            payload,
            dedupe_key: None,
            max_attempts: JOB_ATTEMPTS,
        }],
    )
    .await?;
    Ok(())
}

/// The tenant's subscription in Stripe that can still bill: `(subscription id, seats)`.
pub async fn live_stripe_subscription(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> AppResult<Option<(String, i32)>> {
    let found: Option<(Option<String>, i32)> = subscriptions::table
        .filter(subscriptions::tenant_id.eq(tenant))
        .filter(subscriptions::status.eq_any(LIVE))
        .filter(subscriptions::cancel_at_period_end.eq(false))
        .select((subscriptions::stripe_subscription_id, subscriptions::seats))
        .first(conn)
        .await
        .optional()?;
    Ok(found.and_then(|(id, seats)| id.map(|id| (id, seats))))
}

/// The Stripe Price of `plan` in `currency` and `cycle`, if the catalogue has one.
pub async fn stripe_price(
    conn: &mut AsyncPgConnection,
    plan: &str,
    currency: &str,
    cycle: BillingCycle,
) -> AppResult<Option<String>> {
    Ok(prices::table
        .filter(prices::plan_key.eq(plan))
        .filter(prices::currency.eq(currency))
        .filter(prices::billing_cycle.eq(cycle))
        .select(prices::stripe_price_id)
        .first::<Option<String>>(conn)
        .await
        .optional()?
        .flatten())
}

/// What a new subscription of `tenant` is: its plan and the seats it starts with (the
/// plan's included seats, at least one, at least the active members).
pub async fn opening(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> AppResult<Option<(PlanRow, i32)>> {
    let plan: Option<PlanRow> = tenants::table
        .inner_join(plans::table)
        .filter(tenants::id.eq(tenant))
        .select(PlanRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(plan) = plan else {
        return Ok(None);
    };
    let used = seats_used(conn, tenant).await?;
    let seats = plan.seats_included.max(used).max(1);
    Ok(Some((plan, seats)))
}

/// Active members of `tenant` (the seats in use).
pub async fn seats_used(conn: &mut AsyncPgConnection, tenant: TenantId) -> AppResult<i32> {
    let n: i64 = memberships::table
        .filter(memberships::tenant_id.eq(tenant))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .count()
        .get_result(conn)
        .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Writes Stripe's answer onto the tenant's subscription row (Stripe's own state, read now:
/// webhook events created before this moment are stale from here on).
pub async fn mirror(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    sub: &StripeSubscription,
) -> AppResult<Result<(), String>> {
    let Some(status) = status_of(&sub.status, false) else {
        return Ok(Err(format!(
            "unsupported subscription status {:?}",
            sub.status
        )));
    };
    let cycle = match sub.interval.as_deref() {
        Some("month") => BillingCycle::Monthly,
        Some("year") => BillingCycle::Yearly,
        other => return Ok(Err(format!("unsupported billing interval {other:?}"))),
    };
    let (Ok(seats), Some(unit)) = (i32::try_from(sub.quantity), sub.unit_amount) else {
        return Ok(Err("seats or unit amount out of range".into()));
    };
    let Some(price_minor) = unit.checked_mul(sub.quantity) else {
        return Ok(Err("price out of range".into()));
    };
    let tenant_plan: String = tenants::table
        .find(tenant)
        .select(tenants::plan)
        .first(conn)
        .await?;
    let plan = sub.plan.clone().unwrap_or(tenant_plan);
    let currency = sub.currency.to_ascii_uppercase();
    let period_end: Option<DateTime<Utc>> = sub
        .current_period_end
        .and_then(|t| DateTime::from_timestamp(t, 0));
    let now = Utc::now();
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::tenant_id.eq(tenant),
            subscriptions::plan.eq(&plan),
            subscriptions::status.eq(status),
            subscriptions::seats.eq(seats),
            subscriptions::price_minor.eq(price_minor),
            subscriptions::currency.eq(&currency),
            subscriptions::billing_cycle.eq(cycle),
            subscriptions::stripe_customer_id.eq(&sub.customer),
            subscriptions::stripe_subscription_id.eq(&sub.id),
            subscriptions::current_period_end.eq(period_end),
            subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
            subscriptions::stripe_synced_at.eq(now),
        ))
        .on_conflict(subscriptions::tenant_id)
        .do_update()
        .set((
            subscriptions::plan.eq(&plan),
            subscriptions::status.eq(status),
            subscriptions::seats.eq(seats),
            subscriptions::price_minor.eq(price_minor),
            subscriptions::currency.eq(&currency),
            subscriptions::billing_cycle.eq(cycle),
            subscriptions::stripe_customer_id.eq(&sub.customer),
            subscriptions::stripe_subscription_id.eq(&sub.id),
            subscriptions::current_period_end.eq(period_end),
            subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
            subscriptions::stripe_synced_at.eq(now),
            subscriptions::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    // The seats may have moved the usage across 80 % or 100 %.
    crate::domain::members::seats::announce(conn, tenant).await?;
    Ok(Ok(()))
}

/// The statuses a subscription may be changed in.
pub fn changeable(status: SubscriptionStatus) -> bool {
    LIVE.contains(&status)
}

/// What a change job needs of the current subscription.
#[derive(Debug, Clone)]
pub struct Current {
    /// `sub_…`.
    pub stripe_id: String,
    /// Its currency.
    pub currency: String,
    /// Its cycle.
    pub billing_cycle: BillingCycle,
}

/// The tenant's subscription as Stripe knows it, if there is one.
pub async fn current(conn: &mut AsyncPgConnection, tenant: TenantId) -> AppResult<Option<Current>> {
    let row: Option<(Option<String>, String, BillingCycle)> = subscriptions::table
        .filter(subscriptions::tenant_id.eq(tenant))
        .select((
            subscriptions::stripe_subscription_id,
            subscriptions::currency,
            subscriptions::billing_cycle,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(id, currency, billing_cycle)| {
        id.map(|stripe_id| Current {
            stripe_id,
            currency,
            billing_cycle,
        })
    }))
}

/// Active members of each of `tenants` (absent: none), in one statement.
pub async fn seats_used_of(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> AppResult<Vec<(TenantId, i32)>> {
    let rows: Vec<(TenantId, i64)> = memberships::table
        .filter(memberships::tenant_id.eq_any(tenants))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .group_by(memberships::tenant_id)
        .select((memberships::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, i32::try_from(n).unwrap_or(i32::MAX)))
        .collect())
}
