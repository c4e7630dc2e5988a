//! Billing mutations on a tenant's subscription.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::domain::billing::seats;
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::tenants::types::Tenant;
use crate::upstream::Upstreams;

/// Input of `setSubscriptionSeats`.
#[derive(InputObject)]
pub struct SetSubscriptionSeatsInput {
    /// The tenant's slug.
    pub tenant: String,
    /// The new number of seats (1–10000, at least the active members).
    pub seats: i32,
}

/// The tenant after a billing change.
#[derive(SimpleObject)]
pub struct BillingPayload {
    /// The tenant; its subscription shows the change once Stripe confirmed it.
    pub tenant: Tenant,
}

/// Billing mutations.
#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Changes the seats of the tenant's subscription (tenant admins, the partner's staff,
    /// operators). Stripe prorates; the subscription shows the new seats once Stripe
    /// confirmed them. `CONFLICT` when billing is not configured or there is no running
    /// subscription. Audited (`billing.set_seats`).
    async fn set_subscription_seats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and its seats.")] input: SetSubscriptionSeatsInput,
    ) -> ApiResult<BillingPayload> {
        let configured = ctx.data_unchecked::<Arc<Upstreams>>().stripe.is_some();
        let caller = caller(ctx).await?;
        let row = seats::set_seats(&caller, &input.tenant, input.seats, configured).await?;
        Ok(BillingPayload {
            tenant: Tenant(row),
        })
    }
}
