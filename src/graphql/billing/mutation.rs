//! Billing mutations on a tenant's subscription.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::domain::billing::seats;
use crate::error::ApiResult;
use crate::graphql::billing::details::{self, BillingDetailsPayload, UpdateBillingDetailsInput};
use crate::graphql::billing::payment::{
    self, PaymentMethodPayload, PaymentMethodSetup, SetDefaultPaymentMethodInput,
    StartPaymentMethodSetupInput,
};
use crate::graphql::context::caller;
use crate::graphql::tenants::types::Tenant;

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
        // Stripe configured and the `new_billing_engine` flag on for this tenant.
        let configured = super::gate::for_tenant_slug(ctx, &input.tenant).await?;
        let caller = caller(ctx).await?;
        let row = seats::set_seats(&caller, &input.tenant, input.seats, configured).await?;
        Ok(BillingPayload {
            tenant: Tenant(row),
        })
    }

    /// Changes the tenant's billing details (tenant owners and admins, the partner's staff,
    /// operators): company, VAT id (checked against the country's format), country, billing
    /// e-mail. Pushed to the Stripe customer by a job. `CONFLICT` when billing is not
    /// configured. Audited (`billing.update_details`, naming the fields changed, not their
    /// values).
    async fn update_billing_details(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the fields to change.")] input: UpdateBillingDetailsInput,
    ) -> ApiResult<BillingDetailsPayload> {
        details::update(ctx, input).await
    }

    /// Opens a Stripe SetupIntent to collect a card with Stripe Elements (tenant owners and
    /// admins, the partner's staff, operators; never while impersonating). Creates the
    /// tenant's Stripe customer when it has none. `CONFLICT` when billing is not configured.
    /// Audited (`billing.start_payment_method_setup`; the client secret is not recorded).
    async fn start_payment_method_setup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] input: StartPaymentMethodSetupInput,
    ) -> ApiResult<PaymentMethodSetup> {
        payment::start(ctx, input).await
    }

    /// Makes one of the tenant's cards its default (tenant owners and admins, the partner's
    /// staff, operators; never while impersonating). `NOT_FOUND` for a card that is not the
    /// tenant's customer's (nothing written in Stripe); `CONFLICT` when billing is not
    /// configured. Audited (`billing.set_default_payment_method`).
    async fn set_default_payment_method(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the card.")] input: SetDefaultPaymentMethodInput,
    ) -> ApiResult<PaymentMethodPayload> {
        payment::set_default(ctx, input).await
    }
}
