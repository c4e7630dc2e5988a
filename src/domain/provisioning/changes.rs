//! `reconcileTenant` and `retryProvisioningStep`: re-run steps, audited.
//!
//! Who may: operators, and the staff of the tenant's partner. Anyone else who may see the
//! tenant gets `FORBIDDEN`; who may not, `NOT_FOUND`.

use std::sync::Arc;

use serde_json::json;

use super::{Step, StepStatus, state};
use crate::auth::Viewer;
use crate::db::DbPool;
use crate::db::models::TenantRow;
use crate::domain::audit::{Actor, AuditEntry, audited};
use crate::error::{AppError, AppResult};

/// The tenant, if the viewer may re-run its provisioning; fills the audit entry.
async fn runnable_tenant(
    conn: &mut diesel_async::AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
    audit: &mut AuditEntry,
) -> AppResult<TenantRow> {
    let row = crate::domain::tenant_changes::visible_tenant(conn, viewer, slug, audit).await?;
    let staff = row.partner_id.is_some_and(|p| viewer.is_partner_staff(p));
    if !(viewer.is_operator() || staff) {
        return Err(audit.deny(AppError::Forbidden(
            "only operators and the tenant's partner re-run provisioning".into(),
        )));
    }
    if row.status == "terminated" {
        return Err(AppError::bad_input(
            "tenant",
            "a terminated tenant is not provisioned",
        ));
    }
    Ok(row)
}

/// `reconcileTenant`: queues every step that is not already pending or running — failed
/// ones to try again, finished ones to check for drift (each step is an idempotent
/// "ensure": an upstream object that went missing is recreated, one that exists is left
/// alone). Missing step rows are created. Returns the steps queued.
pub async fn reconcile(
    pool: &DbPool,
    actor: &Actor,
    viewer: AppResult<Arc<Viewer>>,
    slug: String,
    max_attempts: u32,
) -> AppResult<(TenantRow, Vec<Step>)> {
    audited(
        pool,
        actor,
        AuditEntry::new("tenant.reconcile", "tenant"),
        move |conn, audit| {
            Box::pin(async move {
                let viewer = viewer.map_err(|e| audit.deny(e))?;
                let row = runnable_tenant(conn, &viewer, &slug, audit).await?;
                state::lock_tenant(conn, row.id).await?;
                let current = state::steps_of(conn, &[row.id]).await?;
                let open: Vec<Step> = current
                    .iter()
                    .filter(|s| StepStatus::parse(&s.status).is_some_and(|s| !s.is_settled()))
                    .filter_map(|s| Step::parse(&s.step))
                    .collect();
                let queued: Vec<Step> = Step::ALL
                    .into_iter()
                    .filter(|s| !open.contains(s))
                    .collect();
                if !queued.is_empty() {
                    state::queue_steps(conn, row.id, &queued, max_attempts, "queued by reconcile")
                        .await?;
                }
                audit.details = json!({
                    "queued": queued.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    "alreadyOpen": open.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                });
                Ok((row, queued))
            })
        },
    )
    .await
}

/// `retryProvisioningStep`: queues one step again; refused while it is pending or running.
pub async fn retry_step(
    pool: &DbPool,
    actor: &Actor,
    viewer: AppResult<Arc<Viewer>>,
    slug: String,
    step: Step,
    max_attempts: u32,
) -> AppResult<TenantRow> {
    audited(
        pool,
        actor,
        AuditEntry::new("tenant.provisioning.retry", "tenant"),
        move |conn, audit| {
            Box::pin(async move {
                let viewer = viewer.map_err(|e| audit.deny(e))?;
                let row = runnable_tenant(conn, &viewer, &slug, audit).await?;
                audit.details = json!({ "step": step.as_str() });
                state::lock_tenant(conn, row.id).await?;
                let current = state::step(conn, row.id, step).await?;
                if let Some(status) = current.and_then(|c| StepStatus::parse(&c.status))
                    && !status.is_settled()
                {
                    return Err(AppError::bad_input(
                        "step",
                        format!("the step is already {}", status.as_str()),
                    ));
                }
                state::queue_steps(conn, row.id, &[step], max_attempts, "queued by retry").await?;
                Ok(row)
            })
        },
    )
    .await
}
