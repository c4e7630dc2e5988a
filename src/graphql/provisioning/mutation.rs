//! `reconcileTenant` and `retryProvisioningStep`: thin wrappers over
//! `domain::provisioning::changes`.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use super::types::ProvisioningStepName;
use crate::config::Config;
use crate::domain::provisioning::changes;
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::tenants::mutation::TenantPayload;
use crate::graphql::tenants::types::Tenant;

/// What `reconcileTenant` queued.
#[derive(SimpleObject)]
pub struct ReconcilePayload {
    /// The tenant as it is now.
    pub tenant: Tenant,
    /// The steps queued to run again (steps already pending or running are left alone).
    pub queued: Vec<ProvisioningStepName>,
}

/// Provisioning mutations.
#[derive(Default)]
pub struct ProvisioningMutation;

#[Object]
impl ProvisioningMutation {
    /// Re-runs a tenant's provisioning (operators and the tenant's partner): every step not
    /// already pending or running is queued again — failed ones to retry, finished ones to
    /// repair drift (each step only creates what is missing upstream). Follow it with
    /// `provisioningProgress`. Audited.
    async fn reconcile_tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant: String,
    ) -> ApiResult<ReconcilePayload> {
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let (row, queued) = changes::reconcile(&caller(ctx).await?, &tenant, max_attempts).await?;
        Ok(ReconcilePayload {
            tenant: Tenant(row),
            queued,
        })
    }

    /// Queues one provisioning step again (operators and the tenant's partner); refused with
    /// `BAD_USER_INPUT` while the step is pending or running. Audited.
    async fn retry_provisioning_step(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant: String,
        #[graphql(desc = "The step to run again.")] step: ProvisioningStepName,
    ) -> ApiResult<TenantPayload> {
        let max_attempts = ctx.data_unchecked::<Arc<Config>>().jobs.max_attempts;
        let row = changes::retry_step(&caller(ctx).await?, &tenant, step, max_attempts).await?;
        Ok(TenantPayload {
            tenant: Tenant(row),
        })
    }
}
