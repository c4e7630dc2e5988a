//! What terminating a tenant queues: the removal of every member (their mailbox, and their
//! Authentik and oCIS users unless they belong to another tenant) and the deletion of the
//! tenant's Authentik group, which nothing deleted before.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::steps;
use super::{MemberOperation, MemberStep, MembershipStatus};
use crate::db::schema::memberships;
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::jobs::{self as queue, NewJob};

/// The job kind that deletes a terminated tenant's Authentik group.
pub const GROUP_JOB: &str = "tenant_group_delete";

/// What a group deletion job carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupJob {
    /// The tenant.
    pub tenant: TenantId,
}

/// Queues the teardown of a tenant being terminated (inside its transaction): every member
/// not already being removed gets a `remove` operation, and the group a deletion job.
/// Returns how many members were queued.
pub async fn queue_for_tenant(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    max_attempts: u32,
) -> QueryResult<usize> {
    let members: Vec<MemberId> = memberships::table
        .filter(memberships::tenant_id.eq(tenant))
        .filter(
            memberships::operation
                .ne(MemberOperation::Remove)
                .or(memberships::operation.is_null()),
        )
        .select(memberships::id)
        .for_no_key_update()
        .load(conn)
        .await?;
    diesel::update(memberships::table.filter(memberships::id.eq_any(&members)))
        .set(memberships::status.eq(MembershipStatus::Suspended))
        .execute(conn)
        .await?;
    for id in &members {
        steps::queue_operation(
            conn,
            *id,
            tenant,
            MemberOperation::Remove,
            MemberStep::ALL,
            max_attempts,
            "queued by terminateTenant",
        )
        .await?;
    }
    queue::enqueue(
        conn,
        &[NewJob {
            kind: GROUP_JOB,
            payload: json!(GroupJob { tenant }),
            dedupe_key: Some(format!("{GROUP_JOB}:{tenant}")),
            max_attempts,
        }],
    )
    .await?;
    Ok(members.len())
}
