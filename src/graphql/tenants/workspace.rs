//! `createWorkspace`: a thin wrapper over `domain::tenants::workspace`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object};

use crate::config::Config;
use crate::domain::tenants::workspace;
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::tenants::mutation::TenantPayload;
use crate::graphql::tenants::types::Tenant;

/// Input of `createWorkspace`.
#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    /// Unique slug: 3–63 lower-case letters, digits and single dashes.
    pub slug: String,
    /// Display name (1–200 characters).
    pub name: String,
}

/// Self-service tenant creation.
#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    /// Creates a workspace (a tenant) for the signed-in caller, who becomes its `OWNER`; it
    /// starts `PENDING` on the default plan and is provisioned like `createTenant`'s. At most
    /// `WORKSPACES_PER_USER` live workspaces per person (`FORBIDDEN` beyond), at most
    /// `WORKSPACES_PER_HOUR` attempts an hour (`RATE_LIMITED`); a taken slug is `CONFLICT`.
    /// Audited (`tenant.create_workspace`).
    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new workspace.")] input: CreateWorkspaceInput,
    ) -> ApiResult<TenantPayload> {
        let config = ctx.data_unchecked::<Arc<Config>>();
        let row = workspace::create(
            &caller(ctx).await?,
            &input.slug,
            &input.name,
            &config.workspaces,
            config.jobs.max_attempts,
        )
        .await?;
        Ok(TenantPayload {
            tenant: Tenant(row),
        })
    }
}
