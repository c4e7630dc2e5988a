//! `retryMember`: queues the failed steps of a member's latest operation again.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::steps::{self, LockedMember};
use super::{MemberOperation, MemberRow, MembershipStatus};
use crate::auth::TenantAccess;
use crate::db::schema::memberships;
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::MemberId;
use crate::domain::provisioning::StepStatus;
use crate::domain::tenants::TenantRow;
use crate::error::{AppError, AppResult};

/// The member `id` of `tenant`, locked; `NOT_FOUND` when the tenant has no such member.
pub async fn member_of(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: &TenantRow,
    id: MemberId,
) -> AppResult<LockedMember> {
    steps::lock_member(conn, id)
        .await?
        .filter(|m| m.tenant_id == tenant.id)
        .ok_or(AppError::NotFound { what: "member" })
}

/// `retryMember`: the steps in `ERROR` of the member's latest operation run again (a
/// failed creation goes back to `PROVISIONING`).
pub async fn retry(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
) -> AppResult<MemberRow> {
    caller
        .change("member.retry", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                let Some(operation) = member.operation else {
                    return Err(AppError::bad_input("input.member", "nothing to retry"));
                };
                let failed: Vec<_> = steps::steps_of(tx.conn, &[id])
                    .await?
                    .into_iter()
                    .filter(|s| s.status == StepStatus::Error)
                    .map(|s| s.step)
                    .collect();
                if failed.is_empty() {
                    return Err(AppError::bad_input(
                        "input.member",
                        "no step of the member's latest operation failed",
                    ));
                }
                tx.audit.details = json!({ "operation": operation, "steps": failed });
                if operation == MemberOperation::Create {
                    diesel::update(memberships::table.filter(memberships::id.eq(id)))
                        .set(memberships::status.eq(MembershipStatus::Provisioning))
                        .execute(tx.conn)
                        .await?;
                }
                steps::requeue(
                    tx.conn,
                    id,
                    tenant.id,
                    operation,
                    &failed,
                    max_attempts,
                    "queued by retryMember",
                )
                .await?;
                super::create::row(tx.conn, id).await
            },
        )
        .await
}
