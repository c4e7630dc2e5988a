//! Changes to a tenant's security policy, and the audit of operators' exempt access.

use diesel_async::AsyncPgConnection;
use serde_json::json;

use super::rules::PolicyChange;
use super::{Policy, of_tenant, save};
use crate::auth::{TenantAccess, Viewer};
use crate::domain::audit::change::{Caller, need};
use crate::domain::audit::{self, Actor, AuditEntry};
use crate::domain::ids::TenantId;
use crate::domain::members::MembershipStatus;
use crate::domain::tenants::TenantRow;
use crate::error::{AppError, AppResult};

/// Changes the policy of tenant `slug` (its owners and admins, its partner's staff,
/// operators). An allowlist or country rule that would refuse the caller's own request needs
/// `confirm_lockout` (else `BAD_USER_INPUT` on `input.confirmLockout`, nothing written).
/// Audited as `security.update_policy` with the policy before and after.
pub async fn update_policy(
    caller: &Caller,
    slug: &str,
    change: PolicyChange,
    confirm_lockout: bool,
) -> AppResult<Policy> {
    caller
        .change("security.update_policy", "tenant")
        .run(
            need::tenant(slug, TenantAccess::Admin),
            async move |tx, tenant| {
                let before = of_tenant(tx.conn, tenant.id).await?;
                let after = change.apply(&before)?;
                if let Some(why) = locks_out(tx.viewer, tenant.id, &after)
                    && !confirm_lockout
                {
                    return Err(AppError::bad_input(
                        "input.confirmLockout",
                        format!("{why}: this change would lock you out; confirm with confirmLockout: true"),
                    ));
                }
                save(tx.conn, tenant.id, &after).await?;
                tx.audit.details = json!({
                    "before": before.to_json(),
                    "after": after.to_json(),
                    "lockoutConfirmed": confirm_lockout,
                });
                Ok(after)
            },
        )
        .await
}

/// Why `policy` would refuse the viewer's current request to `tenant` through their
/// membership, or `None` (operators are exempt; staff reach it through their partner).
fn locks_out(viewer: &Viewer, tenant: TenantId, policy: &Policy) -> Option<String> {
    if viewer.is_operator() {
        return None;
    }
    let member = viewer
        .memberships
        .iter()
        .any(|m| m.tenant_id == tenant && m.status == MembershipStatus::Active);
    if !member {
        return None;
    }
    policy.network().refusal(&viewer.network)
}

/// Records that an operator reached `tenant` from a client its network rule would refuse a
/// member from (`security.exempt_access`, with the reason): operators are exempt, and
/// audited. One statement.
pub async fn audit_exempt_access(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    tenant: &TenantRow,
    reason: &str,
) -> AppResult<()> {
    let mut entry = AuditEntry::new("security.exempt_access", "tenant");
    entry.target_id = Some(tenant.slug.clone());
    entry.tenant_id = Some(tenant.id);
    entry.partner_id = tenant.partner_id;
    entry.details = json!({ "reason": reason, "exempt": "operator" });
    audit::record(conn, actor, &entry).await?;
    Ok(())
}
