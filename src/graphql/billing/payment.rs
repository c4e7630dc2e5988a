//! `Tenant.paymentMethod`, `startPaymentMethodSetup` and `setDefaultPaymentMethod`.

use crate::domain::security::upstream_reads::UpstreamReads;
use async_graphql::{Context, InputObject, SimpleObject};

use crate::db::DbPool;
use crate::domain::billing::payment_method;
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::tenants::types::Tenant;

/// The default card of a tenant, as Stripe shows it (nothing of it is stored here).
#[derive(SimpleObject, Debug, Clone)]
pub struct PaymentMethod {
    /// Stripe's id of the card (`pm_…`).
    pub id: String,
    /// `visa`, `mastercard`, …
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month, 1–12.
    pub exp_month: i32,
    /// Expiry year.
    pub exp_year: i32,
}

/// Reads the tenant's default card from Stripe; `null` without one or when billing is not
/// configured (nothing is called then).
pub async fn of(ctx: &Context<'_>, tenant: &Tenant) -> ApiResult<Option<PaymentMethod>> {
    let Some(client) = super::gate::client_for(ctx, tenant).await? else {
        return Ok(None);
    };
    let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
    let (customer, card) = payment_method::default_card_of(&mut conn, tenant.0.id).await?;
    drop(conn);
    let (Some(customer), Some(card)) = (customer, card) else {
        return Ok(None);
    };
    // One Stripe read per tenant of a list: bounded by the process-wide permits of the
    // upstream reads (`SECURITY_UPSTREAM_CONCURRENCY`), never all at once.
    let reads = ctx.data_unchecked::<std::sync::Arc<UpstreamReads>>();
    Ok(reads
        .bounded(|| payment_method::card(client.as_ref(), &customer, &card))
        .await?
        .map(|c| PaymentMethod {
            id: c.id,
            brand: c.brand,
            last4: c.last4,
            exp_month: i32::try_from(c.exp_month).unwrap_or_default(),
            exp_year: i32::try_from(c.exp_year).unwrap_or_default(),
        }))
}

/// Input of `startPaymentMethodSetup`.
#[derive(InputObject)]
pub struct StartPaymentMethodSetupInput {
    /// The tenant's slug.
    pub tenant: String,
}

/// What Stripe Elements needs to collect a card. The client secret is handed out here only:
/// it is never stored or logged.
#[derive(SimpleObject)]
pub struct PaymentMethodSetup {
    /// The SetupIntent's client secret (`seti_…_secret_…`), for `stripe.confirmCardSetup`.
    pub client_secret: String,
    /// Stripe's publishable key (`pk_…`).
    pub publishable_key: String,
}

/// Input of `setDefaultPaymentMethod`.
#[derive(InputObject)]
pub struct SetDefaultPaymentMethodInput {
    /// The tenant's slug.
    pub tenant: String,
    /// A card of the tenant's Stripe customer (`pm_…`).
    pub payment_method: String,
}

/// The tenant after its default card changed.
#[derive(SimpleObject)]
pub struct PaymentMethodPayload {
    /// The tenant; its `paymentMethod` is the new default.
    pub tenant: Tenant,
}

/// The Stripe client when billing runs for the tenant `slug` (`None` for an unknown one: the
/// audited runner answers for it).
async fn client_for_slug(
    ctx: &Context<'_>,
    slug: &str,
) -> ApiResult<Option<std::sync::Arc<dyn crate::upstream::stripe::StripeClient>>> {
    Ok(if super::gate::for_tenant_slug(ctx, slug).await? {
        super::gate::stripe(ctx)
    } else {
        None
    })
}

/// Runs `startPaymentMethodSetup`.
pub async fn start(
    ctx: &Context<'_>,
    input: StartPaymentMethodSetupInput,
) -> ApiResult<PaymentMethodSetup> {
    let caller = caller(ctx).await?;
    let client = client_for_slug(ctx, &input.tenant).await?;
    let setup = payment_method::start_setup(
        &caller,
        &input.tenant,
        client,
        super::gate::publishable_key(ctx),
    )
    .await?;
    Ok(PaymentMethodSetup {
        client_secret: setup.client_secret.expose().to_owned(),
        publishable_key: setup.publishable_key,
    })
}

/// Runs `setDefaultPaymentMethod`.
pub async fn set_default(
    ctx: &Context<'_>,
    input: SetDefaultPaymentMethodInput,
) -> ApiResult<PaymentMethodPayload> {
    let caller = caller(ctx).await?;
    let client = client_for_slug(ctx, &input.tenant).await?;
    let row =
        payment_method::set_default(&caller, &input.tenant, &input.payment_method, client).await?;
    Ok(PaymentMethodPayload {
        tenant: Tenant(row),
    })
}
