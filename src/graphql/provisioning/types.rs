//! Provisioning types.

use std::sync::Arc;

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use super::loaders::{RecentEventsOfTenant, StepsOfTenant};
use crate::auth::{TenantAccess, TenantRef};
use crate::domain::provisioning::{EventRow, StepRow};
use crate::error::{ApiResult, AppError};
use crate::graphql::context::{loaders, require_tenant};

pub use crate::domain::provisioning::{
    Step as ProvisioningStepName, StepStatus as ProvisioningStatus,
};

/// Operators and the staff of the tenant's partner see failure details and upstream ids.
async fn require_operator_or_staff(ctx: &Context<'_>, tenant: TenantRef) -> ApiResult<()> {
    require_tenant(
        ctx,
        tenant,
        TenantAccess::PartnerStaff,
        "visible to operators and the tenant's partner only",
    )
    .await
}

/// A tenant's provisioning: one step per upstream object, and the log of their changes.
pub struct TenantProvisioning {
    /// The tenant (with its partner: who may see failure details).
    pub tenant: TenantRef,
}

/// A tenant's provisioning: one step per upstream object, and the log of their changes.
#[Object]
impl TenantProvisioning {
    /// The steps, in a fixed order (Authentik, Stalwart, oCIS, Stripe). Empty for a tenant
    /// created before provisioning was tracked, until `reconcileTenant` runs.
    async fn steps(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProvisioningStep>> {
        let rows = loaders(ctx)
            .db
            .load_one(StepsOfTenant(self.tenant.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|row| ProvisioningStep {
                row: row.clone(),
                tenant: self.tenant,
            })
            .collect())
    }

    /// The most recent events, oldest first.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many of the newest events (1–100, default 20).",
            default = 20
        )]
        last: i32,
    ) -> ApiResult<Vec<ProvisioningEvent>> {
        if !(1..=100).contains(&last) {
            return Err(AppError::bad_input("last", "must be between 1 and 100").into());
        }
        let rows = loaders(ctx)
            .db
            .load_one(RecentEventsOfTenant {
                tenant: self.tenant.id,
                limit: last,
            })
            .await?
            .unwrap_or_default();
        Ok(rows.iter().cloned().map(ProvisioningEvent).collect())
    }
}

/// One provisioning step of a tenant.
pub struct ProvisioningStep {
    row: Arc<StepRow>,
    tenant: TenantRef,
}

/// One provisioning step of a tenant.
#[Object]
impl ProvisioningStep {
    /// Which step.
    async fn step(&self) -> ProvisioningStepName {
        self.row.step
    }

    /// Where it stands.
    async fn status(&self) -> ProvisioningStatus {
        self.row.status
    }

    /// Attempts made in the current run.
    async fn attempts(&self) -> i32 {
        self.row.attempts
    }

    /// Why the last attempt failed (operators and the tenant's partner only).
    async fn last_error(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        require_operator_or_staff(ctx, self.tenant).await?;
        Ok(self.row.last_error.as_deref())
    }

    /// The upstream object's id once it exists (operators and the tenant's partner only).
    async fn upstream_id(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        require_operator_or_staff(ctx, self.tenant).await?;
        Ok(self.row.upstream_id.as_deref())
    }

    /// When the step last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// One change in a tenant's provisioning.
#[derive(Clone)]
pub struct ProvisioningEvent(pub Arc<EventRow>);

/// One change in a tenant's provisioning.
#[Object]
impl ProvisioningEvent {
    /// Position in the tenant's log: 1, 2, 3… without gaps. Pass the last one you saw as
    /// `afterSeq` to `provisioningProgress` to resume.
    async fn seq(&self) -> i32 {
        self.0.seq
    }

    /// The step; `null` for the tenant as a whole (the end of a run).
    async fn step(&self) -> Option<ProvisioningStepName> {
        self.0.step
    }

    /// The step's status after this change; for the end of a run, `OK` (every step done or
    /// skipped) or `ERROR` (some step failed).
    async fn status(&self) -> ProvisioningStatus {
        self.0.status
    }

    /// What happened, for people.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// Whether this ends a run (no step is pending or running any more).
    async fn terminal(&self) -> bool {
        self.0.terminal
    }

    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}
