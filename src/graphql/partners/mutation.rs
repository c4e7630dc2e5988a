//! Partner mutations (operators): thin wrappers over `domain::partner_changes`.

use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};

use crate::db::DbPool;
use crate::domain::partner_changes::{self, NewPartner, PartnerTransition, PartnerUpdate};
use crate::domain::tenant_changes::Patch;
use crate::error::ApiResult;
use crate::graphql::mutation_context::mutation_context;
use crate::graphql::partners::types::Partner;

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
    async fn transition(
        ctx: &Context<'_>,
        input: PartnerStatusInput,
        move_: PartnerTransition,
    ) -> ApiResult<PartnerPayload> {
        let (actor, viewer) = mutation_context(ctx).await?;
        let pool = ctx.data_unchecked::<DbPool>();
        let row =
            partner_changes::transition(pool, &actor, viewer, input.partner, move_, input.reason)
                .await?;
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
        let (actor, viewer) = mutation_context(ctx).await?;
        let new = NewPartner {
            slug: input.slug,
            name: input.name,
            domain: input.domain,
            margin_pct: input.margin_pct,
            contact_info: input.contact_info.map(|j| j.0),
            billing_info: input.billing_info.map(|j| j.0),
        };
        let row =
            partner_changes::create(ctx.data_unchecked::<DbPool>(), &actor, viewer, new).await?;
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
        let (actor, viewer) = mutation_context(ctx).await?;
        let update = PartnerUpdate {
            partner: input.partner,
            name: input.name,
            domain: match input.domain {
                MaybeUndefined::Undefined => Patch::Keep,
                MaybeUndefined::Null => Patch::Clear,
                MaybeUndefined::Value(v) => Patch::Set(v),
            },
            margin_pct: input.margin_pct,
            contact_info: input.contact_info.map(|j| j.0),
            billing_info: input.billing_info.map(|j| j.0),
        };
        let row =
            partner_changes::update(ctx.data_unchecked::<DbPool>(), &actor, viewer, update).await?;
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
        Self::transition(ctx, input, PartnerTransition::Suspend).await
    }

    /// Lets a suspended partner back in (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn resume_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and why.")] input: PartnerStatusInput,
    ) -> ApiResult<PartnerPayload> {
        Self::transition(ctx, input, PartnerTransition::Resume).await
    }

    /// Ends a partner for good (operators). Never deleted; its tenants are detached and
    /// become direct customers. Audited, with the detached tenants listed.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn terminate_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner and why.")] input: PartnerStatusInput,
    ) -> ApiResult<PartnerPayload> {
        Self::transition(ctx, input, PartnerTransition::Terminate).await
    }
}
