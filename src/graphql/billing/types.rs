//! The `Subscription` type (a tenant's current plan and price).

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use crate::domain::billing::SubscriptionRow;
pub use crate::domain::billing::{BillingCycle, SubscriptionStatus};
use crate::error::ApiResult;
use crate::error::AppError;
use crate::graphql::billing::loaders::{PlanByKey, SeatsUsedOfTenant};
use crate::graphql::billing::plans::Plan;
use crate::graphql::context::loaders;
use crate::graphql::money::Money;
use crate::graphql::scalars::Long;

/// A tenant's current subscription.
pub struct Subscription(pub std::sync::Arc<SubscriptionRow>);

/// A tenant's current subscription: plan, seats and price.
#[Object(name = "BillingSubscription")]
impl Subscription {
    /// The plan subscribed to (a catalogue entry).
    async fn plan(&self, ctx: &Context<'_>) -> ApiResult<Plan> {
        loaders(ctx)
            .db
            .load_one(PlanByKey(self.0.plan.clone()))
            .await?
            .map(Plan)
            .ok_or_else(|| AppError::NotFound { what: "plan" }.into())
    }

    /// Where the subscription stands.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status
    }

    /// Seats paid for.
    async fn seats(&self) -> i32 {
        self.0.seats
    }

    /// Seats in use: the tenant's active members.
    async fn seats_used(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(loaders(ctx)
            .db
            .load_one(SeatsUsedOfTenant(self.0.tenant_id))
            .await?
            .unwrap_or(0))
    }

    /// Whether the subscription ends when the current period does (no renewal).
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }

    /// The price per billing cycle, for the whole subscription.
    async fn price(&self) -> Money {
        Money {
            amount_minor: Long(self.0.price_minor),
            currency: self.0.currency.clone(),
        }
    }

    /// How often it is billed.
    async fn billing_cycle(&self) -> BillingCycle {
        self.0.billing_cycle
    }

    /// When the current period ends.
    async fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_end
    }
}
