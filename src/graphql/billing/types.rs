//! The `Subscription` type (a tenant's current plan and price).

use async_graphql::{Enum, Object};
use chrono::{DateTime, Utc};

use crate::db::models::SubscriptionRow;
use crate::graphql::money::Money;
use crate::graphql::scalars::Long;

/// Where a subscription stands (Stripe's states).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Created, first payment not made.
    Incomplete,
    /// In a free trial.
    Trialing,
    /// Paid and running.
    Active,
    /// A payment failed; retrying.
    PastDue,
    /// Ended.
    Canceled,
    /// Payments failed for good.
    Unpaid,
}

/// How often a subscription is billed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingCycle {
    /// Every month.
    Monthly,
    /// Every year.
    Yearly,
}

/// A tenant's current subscription.
pub struct Subscription(pub std::sync::Arc<SubscriptionRow>);

/// A tenant's current subscription: plan, seats and price.
#[Object(name = "BillingSubscription")]
impl Subscription {
    /// The plan subscribed to.
    async fn plan(&self) -> &str {
        &self.0.plan
    }

    /// Where the subscription stands.
    async fn status(&self) -> SubscriptionStatus {
        match self.0.status.as_str() {
            "trialing" => SubscriptionStatus::Trialing,
            "active" => SubscriptionStatus::Active,
            "past_due" => SubscriptionStatus::PastDue,
            "canceled" => SubscriptionStatus::Canceled,
            "unpaid" => SubscriptionStatus::Unpaid,
            _ => SubscriptionStatus::Incomplete,
        }
    }

    /// Seats paid for.
    async fn seats(&self) -> i32 {
        self.0.seats
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
        if self.0.billing_cycle == "yearly" {
            BillingCycle::Yearly
        } else {
            BillingCycle::Monthly
        }
    }

    /// When the current period ends.
    async fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_end
    }
}
