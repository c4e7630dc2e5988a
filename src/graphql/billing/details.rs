//! `Tenant.billingDetails` and `updateBillingDetails`.

use async_graphql::{Context, InputObject, MaybeUndefined, SimpleObject};

use crate::domain::billing::details::{self, BillingDetailsRow, DetailsPatch};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::patch::patch;
use crate::graphql::tenants::types::Tenant;

/// What a tenant's invoices are addressed to (only these four fields).
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct BillingDetails {
    /// Company name on invoices.
    pub company: Option<String>,
    /// VAT id, normalised: upper case, no separators, with its country prefix (`EL` for
    /// Greece).
    pub vat_id: Option<String>,
    /// ISO 3166-1 alpha-2 country, e.g. `DE`.
    pub country: Option<String>,
    /// Where invoices are sent.
    pub email: Option<String>,
}

impl From<BillingDetailsRow> for BillingDetails {
    fn from(row: BillingDetailsRow) -> Self {
        Self {
            company: row.company,
            vat_id: row.vat_id,
            country: row.country,
            email: row.email,
        }
    }
}

/// Input of `updateBillingDetails`: each field left out stays, `null` clears it.
#[derive(InputObject)]
pub struct UpdateBillingDetailsInput {
    /// The tenant's slug.
    pub tenant: String,
    /// Company name (1–200 characters).
    pub company: MaybeUndefined<String>,
    /// VAT id, checked against the country's format (EU countries, XI, GB, CH); needs a
    /// country.
    pub vat_id: MaybeUndefined<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: MaybeUndefined<String>,
    /// Billing e-mail address.
    pub email: MaybeUndefined<String>,
}

/// The tenant after its billing details changed.
#[derive(SimpleObject)]
pub struct BillingDetailsPayload {
    /// The details as they are now.
    pub billing_details: BillingDetails,
    /// The tenant.
    pub tenant: Tenant,
}

/// Runs `updateBillingDetails`.
pub async fn update(
    ctx: &Context<'_>,
    input: UpdateBillingDetailsInput,
) -> ApiResult<BillingDetailsPayload> {
    let caller = caller(ctx).await?;
    // Whether billing runs depends on the tenant (the flag); an unknown or invisible tenant is
    // refused by the audited runner as usual.
    let configured = super::gate::for_tenant_slug(ctx, &input.tenant).await?;
    let patch = DetailsPatch {
        company: patch(input.company),
        vat_id: patch(input.vat_id),
        country: patch(input.country),
        email: patch(input.email),
    };
    let (tenant, row) = details::update(&caller, &input.tenant, patch, configured).await?;
    Ok(BillingDetailsPayload {
        billing_details: row.into(),
        tenant: Tenant(tenant),
    })
}
