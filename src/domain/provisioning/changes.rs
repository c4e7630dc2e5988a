//! `reconcileTenant` and `retryProvisioningStep`: re-run steps, audited.
//!
//! Who may: operators, and the staff of the tenant's partner. Anyone else who may see the
//! tenant gets `FORBIDDEN`; who may not, `NOT_FOUND`.

use serde_json::json;

use super::{Step, state};
use crate::auth::TenantAccess;
use crate::domain::audit::change::{Caller, need};
use crate::domain::tenants::{TenantRow, TenantStatus};
use crate::error::{AppError, AppResult};

/// Who may re-run a tenant's provisioning.
const RUNS: TenantAccess = TenantAccess::PartnerStaff;

/// A terminated tenant is not provisioned.
fn runnable(row: &TenantRow) -> AppResult<()> {
    if row.status == TenantStatus::Terminated {
        return Err(AppError::bad_input(
            "tenant",
            "the tenant is terminated, so it is not provisioned",
        ));
    }
    Ok(())
}

/// `reconcileTenant`: queues every step that is not already pending or running — failed
/// ones to try again, finished ones to check for drift (each step is an idempotent
/// "ensure": an upstream object that went missing is recreated, one that exists is left
/// alone). Missing step rows are created. Returns the steps queued.
pub async fn reconcile(
    caller: &Caller,
    slug: &str,
    max_attempts: u32,
) -> AppResult<(TenantRow, Vec<Step>)> {
    caller
        .change("tenant.reconcile", "tenant")
        .run(need::tenant(slug, RUNS), async move |tx, row| {
            runnable(&row)?;
            let conn = tx.conn;
            state::lock_tenant(conn, row.id).await?;
            let current = state::steps_of(conn, &[row.id]).await?;
            let open: Vec<Step> = current
                .iter()
                .filter(|s| !s.status.is_settled())
                .map(|s| s.step)
                .collect();
            let queued: Vec<Step> = Step::FIRST
                .iter()
                .copied()
                .filter(|s| !open.contains(s))
                .collect();
            if !queued.is_empty() {
                state::queue_steps(conn, row.id, &queued, max_attempts, "queued by reconcile")
                    .await?;
            }
            tx.audit.details = json!({ "queued": queued, "alreadyOpen": open });
            Ok((row, queued))
        })
        .await
}

/// `retryProvisioningStep`: queues one step again; refused while it is pending or running.
pub async fn retry_step(
    caller: &Caller,
    slug: &str,
    step: Step,
    max_attempts: u32,
) -> AppResult<TenantRow> {
    caller
        .change("tenant.provisioning.retry", "tenant")
        .run(need::tenant(slug, RUNS), async move |tx, row| {
            runnable(&row)?;
            tx.audit.details = json!({ "step": step });
            let conn = tx.conn;
            state::lock_tenant(conn, row.id).await?;
            let current = state::step(conn, row.id, step).await?;
            if let Some(status) = current.map(|c| c.status)
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
        .await
}
