//! Billing: the plan catalogue ([`plans`]), subscriptions (one current subscription per tenant) and their vocabulary, the
//! Stripe webhook's events ([`stripe_events`]), billing details ([`details`]), the payment
//! method ([`payment_method`]) and the billing ledger of revenue and partner payouts
//! ([`payouts`], arithmetic in [`payout_math`]).

pub mod currency;
pub mod details;
pub mod invoices;
pub mod payment_method;
pub mod payout_math;
pub mod payouts;
mod plan_changes;
pub mod plans;
pub mod seats;
pub mod stripe_events;
pub mod subscription;
pub mod vat;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::subscriptions;
use crate::domain::ids::TenantId;

crate::text_enum! {
    /// Where a subscription stands (Stripe's states).
    #[derive(async_graphql::Enum)]
    pub enum SubscriptionStatus {
        /// Created, first payment not made.
        Incomplete = "incomplete",
        /// In a free trial.
        Trialing = "trialing",
        /// Paid and running.
        Active = "active",
        /// A payment failed; retrying.
        PastDue = "past_due",
        /// Ended.
        Canceled = "canceled",
        /// Payments failed for good.
        Unpaid = "unpaid",
        /// A trial ended without a payment method: paused, nothing billed until resumed.
        Paused = "paused",
    }
}

impl SubscriptionStatus {
    /// The statuses that count as paying (monthly recurring revenue).
    pub const PAYING: &'static [Self] = &[Self::Active, Self::Trialing, Self::PastDue];
}

crate::text_enum! {
    /// How often a subscription is billed.
    #[derive(async_graphql::Enum)]
    pub enum BillingCycle {
        /// Every month.
        Monthly = "monthly",
        /// Every year.
        Yearly = "yearly",
    }
}

/// A `subscriptions` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    /// Primary key.
    pub id: uuid::Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Plan.
    pub plan: String,
    /// Where it stands.
    pub status: SubscriptionStatus,
    /// Seats paid for.
    pub seats: i32,
    /// Price per billing cycle for the whole subscription, in minor units.
    pub price_minor: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// How often it is billed.
    pub billing_cycle: BillingCycle,
    /// End of the current period.
    pub current_period_end: Option<DateTime<Utc>>,
    /// Whether it ends at the end of the current period.
    pub cancel_at_period_end: bool,
}

/// The subscriptions of `tenant_ids`.
pub async fn by_tenants(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::tenant_id.eq_any(tenant_ids))
        .select(SubscriptionRow::as_select())
        .load(conn)
        .await
}
