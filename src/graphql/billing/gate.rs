//! Whether billing runs: Stripe configured (`STRIPE_SECRET_KEY`) **and** the
//! `new_billing_engine` feature flag on. For a tenant the flag is evaluated for that tenant;
//! for partner- and platform-wide figures the flag must exist and be enabled.
//!
//! How the graph says "not configured": the `billingConfigured` fields (`Tenant`, `Partner`)
//! and `BillingSummary.configured` are `false`; fields that would call Stripe
//! (`Tenant.paymentMethod`) are `null`; the billing mutations answer `CONFLICT` ("billing is
//! not configured") and call nothing. Fields that read what the webhook mirrored
//! (subscription, invoices, payouts, summaries) read the database only, and hold nothing
//! while Stripe was never configured.

use std::sync::Arc;

use async_graphql::Context;

use crate::error::ApiResult;
use crate::graphql::context::loaders;
use crate::graphql::flags::loaders::LiveFlags;
use crate::graphql::tenants::types::Tenant;
use crate::upstream::Upstreams;
use crate::upstream::stripe::StripeClient;

/// The flag that gates billing.
pub const FLAG: &str = "new_billing_engine";

/// The Stripe client, when Stripe is configured.
pub fn stripe(ctx: &Context<'_>) -> Option<Arc<dyn StripeClient>> {
    ctx.data_unchecked::<Arc<Upstreams>>().stripe.clone()
}

/// Stripe's publishable key, when set.
pub fn publishable_key(ctx: &Context<'_>) -> Option<String> {
    ctx.data_unchecked::<Arc<Upstreams>>()
        .stripe_publishable_key
        .clone()
}

/// Whether billing runs for `tenant` (one statement per request for the flags).
pub async fn for_tenant(ctx: &Context<'_>, tenant: &Tenant) -> ApiResult<bool> {
    if stripe(ctx).is_none() {
        return Ok(false);
    }
    let flags = loaders(ctx)
        .db
        .load_one(LiveFlags)
        .await?
        .unwrap_or_default();
    Ok(flags
        .iter()
        .find(|f| f.key == FLAG)
        .is_some_and(|f| f.evaluate(&tenant.facts()).0))
}

/// Whether billing runs for the tenant named `slug` (`false` for an unknown one: the audited
/// runner then refuses it as usual), for a mutation that has not resolved its tenant yet.
pub async fn for_tenant_slug(ctx: &Context<'_>, slug: &str) -> ApiResult<bool> {
    if stripe(ctx).is_none() {
        return Ok(false);
    }
    let mut conn = ctx.data_unchecked::<crate::db::DbPool>().get().await?;
    match crate::domain::tenants::by_slug(&mut conn, slug).await? {
        Some(row) => for_tenant(ctx, &Tenant(row)).await,
        None => Ok(false),
    }
}

/// The Stripe client when billing runs for `tenant`.
pub async fn client_for(
    ctx: &Context<'_>,
    tenant: &Tenant,
) -> ApiResult<Option<Arc<dyn StripeClient>>> {
    Ok(if for_tenant(ctx, tenant).await? {
        stripe(ctx)
    } else {
        None
    })
}

/// Whether billing runs platform-wide (partner and platform figures).
pub async fn platform(ctx: &Context<'_>) -> ApiResult<bool> {
    if stripe(ctx).is_none() {
        return Ok(false);
    }
    let flags = loaders(ctx)
        .db
        .load_one(LiveFlags)
        .await?
        .unwrap_or_default();
    Ok(flags.iter().any(|f| f.key == FLAG && f.enabled))
}
