//! Tenant mutations: thin wrappers over `domain::tenants::{changes, status}`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::config::Config;
use crate::domain::tenants::changes::{self, NewTenant, TenantUpdate};
use crate::domain::tenants::profile::{Industry, ProfileUpdate};
use crate::domain::tenants::status::{self, TenantMove};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::patch::patch;
use crate::graphql::tenants::types::Tenant;

/// Input of `createTenant`.
#[derive(InputObject)]
pub struct CreateTenantInput {
    /// Unique slug: 3–63 lower-case letters, digits and single dashes.
    pub slug: String,
    /// Display name (1–200 characters).
    pub name: String,
    /// Plan (default `standard`).
    pub plan: Option<String>,
    /// Primary mail domain, e.g. `acme.example`.
    pub primary_domain: Option<String>,
    /// Slug of the (active) partner selling to this tenant; omit for a direct customer.
    pub partner: Option<String>,
}

/// Input of `updateTenant`. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTenantInput {
    /// Slug of the tenant to change.
    pub tenant: String,
    /// New display name (tenant admins, the partner's staff, operators).
    pub name: Option<String>,
    /// New plan (the partner's staff, operators).
    pub plan: Option<String>,
    /// New primary domain; `null` clears it (the partner's staff, operators).
    pub primary_domain: MaybeUndefined<String>,
    /// Slug of a partner to attach to; `null` detaches (operators).
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    pub partner: MaybeUndefined<String>,
    /// The tenant's industry; `null` clears it (tenant admins, the partner's staff,
    /// operators).
    pub industry: MaybeUndefined<Industry>,
    /// The tenant's brand colour, `#rrggbb`; `null` clears it (same access).
    pub brand_color: MaybeUndefined<String>,
}

/// Input of the tenant status mutations.
#[derive(InputObject)]
pub struct TenantStatusInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// Why (kept in the audit log; at most 500 characters).
    pub reason: Option<String>,
}

/// The tenant after a mutation.
#[derive(SimpleObject)]
pub struct TenantPayload {
    /// The tenant as it is now.
    pub tenant: Tenant,
}

/// Tenant mutations.
#[derive(Default)]
pub struct TenantMutation;

impl TenantMutation {
    async fn apply(
        ctx: &Context<'_>,
        input: TenantStatusInput,
        movement: TenantMove,
    ) -> ApiResult<TenantPayload> {
        let row = status::apply(&caller(ctx).await?, &input.tenant, movement, input.reason).await?;
        Ok(TenantPayload {
            tenant: Tenant(row),
        })
    }
}

#[Object]
impl TenantMutation {
    /// Creates a tenant (operators) in `PENDING`, and queues its provisioning (see
    /// `Tenant.provisioning` and `provisioningProgress`); it becomes `ACTIVE` once every step
    /// is done or skipped. Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new tenant.")] input: CreateTenantInput,
    ) -> ApiResult<TenantPayload> {
        let new = NewTenant {
            slug: input.slug,
            name: input.name,
            plan: input.plan,
            primary_domain: input.primary_domain,
            partner: input.partner,
        };
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let row = changes::create(&caller(ctx).await?, new, max_attempts).await?;
        Ok(TenantPayload {
            tenant: Tenant(row),
        })
    }

    /// Changes a tenant: operators anything, the partner's staff name, plan and domain,
    /// tenant admins the name. Audited.
    async fn update_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the fields to change.")] input: UpdateTenantInput,
    ) -> ApiResult<TenantPayload> {
        let update = TenantUpdate {
            tenant: input.tenant,
            name: input.name,
            plan: input.plan,
            primary_domain: patch(input.primary_domain),
            partner: patch(input.partner),
            profile: ProfileUpdate {
                industry: patch(input.industry),
                brand_color: patch(input.brand_color),
            },
        };
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let row = changes::update(&caller(ctx).await?, update, max_attempts).await?;
        Ok(TenantPayload {
            tenant: Tenant(row),
        })
    }

    /// Takes a pending or active tenant out of service, keeping its data (operators and the
    /// tenant's partner). Audited.
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and why.")] input: TenantStatusInput,
    ) -> ApiResult<TenantPayload> {
        Self::apply(ctx, input, TenantMove::Suspend).await
    }

    /// Puts a suspended tenant back in service (operators and the tenant's partner). Audited.
    async fn resume_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and why.")] input: TenantStatusInput,
    ) -> ApiResult<TenantPayload> {
        Self::apply(ctx, input, TenantMove::Resume).await
    }

    /// Ends a tenant for good; it is kept for the record and cannot be resumed (operators).
    /// Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn terminate_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and why.")] input: TenantStatusInput,
    ) -> ApiResult<TenantPayload> {
        Self::apply(ctx, input, TenantMove::Terminate).await
    }
}
