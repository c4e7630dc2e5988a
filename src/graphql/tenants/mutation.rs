//! Tenant mutations: thin wrappers over `domain::tenant_changes`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject};

use std::sync::Arc;

use crate::config::Config;
use crate::db::DbPool;
use crate::domain::tenant_changes::{self, NewTenant, Patch, TenantUpdate, Transition};
use crate::error::ApiResult;
use crate::graphql::mutation_context::mutation_context;
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

fn patch(value: MaybeUndefined<String>) -> Patch<String> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(v),
    }
}

/// Tenant mutations.
#[derive(Default)]
pub struct TenantMutation;

impl TenantMutation {
    async fn transition(
        ctx: &Context<'_>,
        input: TenantStatusInput,
        move_: Transition,
    ) -> ApiResult<TenantPayload> {
        let (actor, viewer) = mutation_context(ctx).await?;
        let pool = ctx.data_unchecked::<DbPool>();
        let row =
            tenant_changes::transition(pool, &actor, viewer, input.tenant, move_, input.reason)
                .await?;
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
        let (actor, viewer) = mutation_context(ctx).await?;
        let new = NewTenant {
            slug: input.slug,
            name: input.name,
            plan: input.plan,
            primary_domain: input.primary_domain,
            partner: input.partner,
        };
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let row = tenant_changes::create(
            ctx.data_unchecked::<DbPool>(),
            &actor,
            viewer,
            new,
            max_attempts,
        )
        .await?;
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
        let (actor, viewer) = mutation_context(ctx).await?;
        let update = TenantUpdate {
            tenant: input.tenant,
            name: input.name,
            plan: input.plan,
            primary_domain: patch(input.primary_domain),
            partner: patch(input.partner),
        };
        let row =
            tenant_changes::update(ctx.data_unchecked::<DbPool>(), &actor, viewer, update).await?;
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
        Self::transition(ctx, input, Transition::Suspend).await
    }

    /// Puts a suspended tenant back in service (operators and the tenant's partner). Audited.
    async fn resume_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and why.")] input: TenantStatusInput,
    ) -> ApiResult<TenantPayload> {
        Self::transition(ctx, input, Transition::Resume).await
    }

    /// Ends a tenant for good; it is kept for the record and cannot be resumed (operators).
    /// Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn terminate_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and why.")] input: TenantStatusInput,
    ) -> ApiResult<TenantPayload> {
        Self::transition(ctx, input, Transition::Terminate).await
    }
}
