//! Provisioning types.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::loaders::{RecentEventsOfTenant, StepsOfTenant};
use crate::auth::ContextAuth;
use crate::domain::provisioning::{EventRow, Step, StepRow, StepStatus};
use crate::error::{ApiResult, AppError};
use crate::graphql::loaders::Loaders;

/// One upstream object a tenant needs.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProvisioningStepName {
    /// The tenant's group in Authentik (single sign-on).
    AuthentikGroup,
    /// The tenant's primary mail domain in Stalwart; skipped when the tenant has none.
    StalwartDomain,
    /// The tenant's project space in oCIS (files).
    OcisSpace,
    /// The tenant's customer in Stripe (billing).
    StripeCustomer,
}

impl From<Step> for ProvisioningStepName {
    fn from(step: Step) -> Self {
        match step {
            Step::AuthentikGroup => Self::AuthentikGroup,
            Step::StalwartDomain => Self::StalwartDomain,
            Step::OcisSpace => Self::OcisSpace,
            Step::StripeCustomer => Self::StripeCustomer,
        }
    }
}

impl From<ProvisioningStepName> for Step {
    fn from(step: ProvisioningStepName) -> Self {
        match step {
            ProvisioningStepName::AuthentikGroup => Self::AuthentikGroup,
            ProvisioningStepName::StalwartDomain => Self::StalwartDomain,
            ProvisioningStepName::OcisSpace => Self::OcisSpace,
            ProvisioningStepName::StripeCustomer => Self::StripeCustomer,
        }
    }
}

/// Where a provisioning step stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProvisioningStatus {
    /// Queued, or waiting for its next attempt after a failure.
    Pending,
    /// A worker is on it.
    Running,
    /// Done: the upstream object exists.
    Ok,
    /// Nothing to do: the upstream is not configured, or the tenant does not need it.
    Skipped,
    /// Failed after its last attempt; `reconcileTenant` or `retryProvisioningStep` re-runs it.
    Error,
}

impl From<StepStatus> for ProvisioningStatus {
    fn from(status: StepStatus) -> Self {
        match status {
            StepStatus::Pending => Self::Pending,
            StepStatus::Running => Self::Running,
            StepStatus::Ok => Self::Ok,
            StepStatus::Skipped => Self::Skipped,
            StepStatus::Error => Self::Error,
        }
    }
}

fn status_of(value: &str) -> ApiResult<ProvisioningStatus> {
    StepStatus::parse(value).map(Into::into).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("unknown provisioning status `{value}`")).into()
    })
}

/// Operators and the staff of the tenant's partner see failure details and upstream ids.
async fn require_operator_or_staff(ctx: &Context<'_>, partner: Option<Uuid>) -> ApiResult<()> {
    let viewer = ctx.viewer().await?;
    if viewer.is_operator() || partner.is_some_and(|p| viewer.is_partner_staff(p)) {
        Ok(())
    } else {
        Err(AppError::Forbidden("visible to operators and the tenant's partner only".into()).into())
    }
}

/// A tenant's provisioning: one step per upstream object, and the log of their changes.
pub struct TenantProvisioning {
    /// The tenant.
    pub tenant: Uuid,
    /// Its partner, if any (who may see failure details).
    pub partner: Option<Uuid>,
}

/// A tenant's provisioning: one step per upstream object, and the log of their changes.
#[Object]
impl TenantProvisioning {
    /// The steps, in a fixed order (Authentik, Stalwart, oCIS, Stripe). Empty for a tenant
    /// created before provisioning was tracked, until `reconcileTenant` runs.
    async fn steps(&self, ctx: &Context<'_>) -> ApiResult<Vec<ProvisioningStep>> {
        let rows = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(StepsOfTenant(self.tenant))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|row| ProvisioningStep {
                row: row.clone(),
                partner: self.partner,
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
        let rows = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(RecentEventsOfTenant {
                tenant: self.tenant,
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
    partner: Option<Uuid>,
}

/// One provisioning step of a tenant.
#[Object]
impl ProvisioningStep {
    /// Which step.
    async fn step(&self) -> ApiResult<ProvisioningStepName> {
        Step::parse(&self.row.step).map(Into::into).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("unknown step `{}`", self.row.step)).into()
        })
    }

    /// Where it stands.
    async fn status(&self) -> ApiResult<ProvisioningStatus> {
        status_of(&self.row.status)
    }

    /// Attempts made in the current run.
    async fn attempts(&self) -> i32 {
        self.row.attempts
    }

    /// Why the last attempt failed (operators and the tenant's partner only).
    async fn last_error(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        require_operator_or_staff(ctx, self.partner).await?;
        Ok(self.row.last_error.as_deref())
    }

    /// The upstream object's id once it exists (operators and the tenant's partner only).
    async fn upstream_id(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        require_operator_or_staff(ctx, self.partner).await?;
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
        self.0.step.as_deref().and_then(Step::parse).map(Into::into)
    }

    /// The step's status after this change; for the end of a run, `OK` (every step done or
    /// skipped) or `ERROR` (some step failed).
    async fn status(&self) -> ApiResult<ProvisioningStatus> {
        status_of(&self.0.status)
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
