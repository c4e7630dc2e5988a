//! Partner mutations (operators): thin wrappers over `domain::partners::{changes, status}`.

use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};

use crate::domain::partners::changes::{self, NewPartner, PartnerUpdate};
use crate::domain::partners::status::{self, PartnerMove};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::partners::types::Partner;
use crate::graphql::patch::patch;

/// Input of `createPartner`.
#[derive(InputObject)]
pub struct CreatePartnerInput {
    /// Unique slug: 3–63 lower-case letters, digits and single dashes.
    pub slug: String,
    /// Display name (1–200 characters).
    pub name: String,
    /// The partner's web domain.
    pub domain: Option<String>,
    /// Margin in percent, 0–100 with at most two decimals (default 0).
    pub margin_pct: Option<f64>,
    /// Contact details (a JSON object, at most 16 KiB).
    pub contact_info: Option<Json<serde_json::Value>>,
    /// Billing details (a JSON object, at most 16 KiB).
    pub billing_info: Option<Json<serde_json::Value>>,
}

/// Input of `updatePartner`. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePartnerInput {
    /// Slug of the partner to change.
    pub partner: String,
    /// New display name.
    pub name: Option<String>,
    /// New domain; `null` clears it.
    pub domain: MaybeUndefined<String>,
    /// New margin in percent.
    pub margin_pct: Option<f64>,
    /// New contact details (replaces the object).
    pub contact_info: Option<Json<serde_json::Value>>,
    /// New billing details (replaces the object).
    pub billing_info: Option<Json<serde_json::Value>>,
}

/// Input of the partner status mutations.
#[derive(InputObject)]
pub struct PartnerStatusInput {
    /// Slug of the partner.
    pub partner: String,
    /// Why (kept in the audit log; at most 500 characters).
    pub reason: Option<String>,
}

/// The partner after a mutation.
#[derive(SimpleObject)]
pub struct PartnerPayload {
    /// The partner as it is now.
    pub partner: Partner,
}

/// Partner mutations.
#[derive(Default)]
pub struct PartnerMutation;

impl PartnerMutation {
    async fn apply(
        ctx: &Context<'_>,
        input: PartnerStatusInput,
        movement: PartnerMove,
    ) -> ApiResult<PartnerPayload> {
        let row =
            status::apply(&caller(ctx).await?, &input.partner, movement, input.reason).await?;
        Ok(PartnerPayload {
            partner: Partner(row),
        })
    }
}

#[Object]
impl PartnerMutation {
    /// Creates a partner (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn create_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new partner.")] input: CreatePartnerInput,
    ) -> ApiResult<PartnerPayload> {
        let new = NewPartner {
            slug: input.slug,
            name: input.name,
            domain: input.domain,
            margin_pct: input.margin_pct,
            contact_info: input.contact_info.map(|j| j.0),
            billing_info: input.billing_info.map(|j| j.0),
        };
        let row = changes::create(&caller(ctx).await?, new).await?;
        Ok(PartnerPayload {
            partner: Partner(row),
        })
    }

    /// Changes a partner (operators). Audited; contact and billing details are not copied
    /// into the log.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn update_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and the fields to change.")] input: UpdatePartnerInput,
    ) -> ApiResult<PartnerPayload> {
        let update = PartnerUpdate {
            partner: input.partner,
            name: input.name,
            domain: patch(input.domain),
            margin_pct: input.margin_pct,
            contact_info: input.contact_info.map(|j| j.0),
            billing_info: input.billing_info.map(|j| j.0),
        };
        let row = changes::update(&caller(ctx).await?, update).await?;
        Ok(PartnerPayload {
            partner: Partner(row),
        })
    }

    /// Bars an active partner for now (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn suspend_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and why.")] input: PartnerStatusInput,
    ) -> ApiResult<PartnerPayload> {
        Self::apply(ctx, input, PartnerMove::Suspend).await
    }

    /// Lets a suspended partner back in (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn resume_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and why.")] input: PartnerStatusInput,
    ) -> ApiResult<PartnerPayload> {
        Self::apply(ctx, input, PartnerMove::Resume).await
    }

    /// Ends a partner for good (operators). Never deleted; its tenants are detached and
    /// become direct customers. Audited, with the detached tenants listed.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn terminate_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and why.")] input: PartnerStatusInput,
    ) -> ApiResult<PartnerPayload> {
        Self::apply(ctx, input, PartnerMove::Terminate).await
    }
}
