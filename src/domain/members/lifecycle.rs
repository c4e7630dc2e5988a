//! The lifecycle of a member after creation, each through the audited runner:
//! `suspendMember` / `resumeMember` (the mailbox is frozen through its sign-in permission, so
//! its password survives), `resetMemberPassword` (a new one-time password on SSO and
//! mailbox), `removeMember`, `changeMemberRole` and `forceLogoutMember`.
//!
//! Who may: the tenant's admins and owners, the staff of its partner and operators; only
//! owners and above touch an owner. Suspending, logging out or removing yourself is refused
//! (`FORBIDDEN`, audited as denied) before anything is queued or called. The last active
//! owner can be neither demoted nor removed. The upstream work is queued as member step jobs
//! in the change's transaction; only `forceLogoutMember` calls Authentik at once (its answer
//! is how many sessions ended).

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::create::{members_frozen, row};
use super::retry::member_of;
use super::sealing::SealingKey;
use super::steps::{self, LockedMember};
use super::{MemberOperation, MemberRole, MemberRow, MemberStep, MembershipStatus};
use crate::auth::TenantAccess;
use crate::db::schema::memberships;
use crate::domain::audit::change::{Caller, Tx, need};
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::tenants::TenantRow;
use crate::error::{AppError, AppResult};
use crate::upstream::Secret;
use crate::upstream::authentik::{AuthentikClient, UserRef};

/// Refuses an action on yourself (audited as denied).
fn not_yourself(tx: &mut Tx<'_>, member: &LockedMember, what: &str) -> AppResult<()> {
    let yourself = tx.viewer.user_id == member.user_id;
    tx.allow(!yourself, &format!("you cannot {what} yourself"))
}

/// Only owners and above act on an owner.
fn owner_rule(tx: &mut Tx<'_>, tenant: &TenantRow, role: MemberRole) -> AppResult<()> {
    if role != MemberRole::Owner {
        return Ok(());
    }
    let access = tx.viewer.tenant_access(tenant.tenant_ref());
    tx.allow(
        access >= TenantAccess::Owner,
        "only owners may change an owner",
    )
}

/// Refuses while an operation's steps are still open.
async fn idle(conn: &mut AsyncPgConnection, member: &LockedMember) -> AppResult<()> {
    let open = steps::steps_of(conn, &[member.id])
        .await?
        .iter()
        .any(|s| !s.status.is_settled());
    if open {
        return Err(AppError::Conflict(
            "another operation of this member is still running".into(),
        ));
    }
    Ok(())
}

/// Active owners of the tenant other than `except`.
async fn other_owners(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    except: MemberId,
) -> AppResult<i64> {
    Ok(memberships::table
        .filter(memberships::tenant_id.eq(tenant))
        .filter(memberships::role.eq(MemberRole::Owner))
        .filter(memberships::status.eq(MembershipStatus::Active))
        .filter(memberships::id.ne(except))
        .count()
        .get_result(conn)
        .await?)
}

async fn set_status(
    conn: &mut AsyncPgConnection,
    id: MemberId,
    status: MembershipStatus,
) -> AppResult<()> {
    diesel::update(memberships::table.filter(memberships::id.eq(id)))
        .set((
            memberships::status.eq(status),
            memberships::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

fn require_status(
    member: &LockedMember,
    allowed: &[MembershipStatus],
    what: &str,
) -> AppResult<()> {
    if allowed.contains(&member.status) {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "the member is {}, so it cannot be {what}",
            member.status
        )))
    }
}

/// `suspendMember`: access ends at once; Authentik deactivates the user (or, for a person
/// in other tenants too, takes them out of this tenant's group) and the mailbox's sign-in is
/// disabled, its password kept.
pub async fn suspend(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
) -> AppResult<MemberRow> {
    caller
        .change("member.suspend", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                not_yourself(&mut tx, &member, "suspend")?;
                owner_rule(&mut tx, &tenant, member.role)?;
                require_status(&member, &[MembershipStatus::Active], "suspended")?;
                idle(tx.conn, &member).await?;
                set_status(tx.conn, id, MembershipStatus::Suspended).await?;
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    MemberOperation::Suspend,
                    &[MemberStep::Authentik, MemberStep::Stalwart],
                    max_attempts,
                    "queued by suspendMember",
                )
                .await?;
                tx.audit.details = json!({ "email": member.email });
                row(tx.conn, id).await
            },
        )
        .await
}

/// `resumeMember`: the upstream objects are enabled again; the member is `ACTIVE` once
/// they are. Refused for a suspended tenant.
pub async fn resume(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
) -> AppResult<MemberRow> {
    caller
        .change("member.resume", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                owner_rule(&mut tx, &tenant, member.role)?;
                members_frozen(&tenant, "resumed")?;
                require_status(&member, &[MembershipStatus::Suspended], "resumed")?;
                idle(tx.conn, &member).await?;
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    MemberOperation::Resume,
                    &[MemberStep::Authentik, MemberStep::Stalwart],
                    max_attempts,
                    "queued by resumeMember",
                )
                .await?;
                tx.audit.details = json!({ "email": member.email });
                row(tx.conn, id).await
            },
        )
        .await
}

/// `resetMemberPassword`: a new one-time password, set on SSO and mailbox together by the
/// jobs (sealed until both succeeded). Returns it, once.
pub async fn reset_password(
    caller: &Caller,
    key: &SealingKey,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
) -> AppResult<(MemberRow, Secret)> {
    caller
        .change("member.reset_password", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                owner_rule(&mut tx, &tenant, member.role)?;
                require_status(
                    &member,
                    &[MembershipStatus::Active, MembershipStatus::Suspended],
                    "given a new password",
                )?;
                idle(tx.conn, &member).await?;
                let password = super::password::generate();
                steps::store_sealed(tx.conn, id, &key.seal(&password)).await?;
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    MemberOperation::ResetPassword,
                    &[MemberStep::Authentik, MemberStep::Stalwart],
                    max_attempts,
                    "queued by resetMemberPassword",
                )
                .await?;
                tx.audit.details = json!({ "email": member.email });
                Ok((row(tx.conn, id).await?, password))
            },
        )
        .await
}

/// `removeMember`: access ends at once; the jobs delete the mailbox, and the Authentik and
/// oCIS users unless the person belongs to another tenant (then only this tenant's group
/// membership goes); the membership row goes when they finished.
pub async fn remove(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
) -> AppResult<MemberRow> {
    caller
        .change("member.remove", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                not_yourself(&mut tx, &member, "remove")?;
                owner_rule(&mut tx, &tenant, member.role)?;
                if member.role == MemberRole::Owner
                    && other_owners(tx.conn, tenant.id, id).await? == 0
                {
                    return Err(AppError::Conflict(
                        "the last owner of a tenant cannot be removed".into(),
                    ));
                }
                idle(tx.conn, &member).await?;
                set_status(tx.conn, id, MembershipStatus::Suspended).await?;
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    MemberOperation::Remove,
                    MemberStep::ALL,
                    max_attempts,
                    "queued by removeMember",
                )
                .await?;
                tx.audit.details = json!({
                    "email": member.email, "inOtherTenants": member.in_other_tenants,
                });
                row(tx.conn, id).await
            },
        )
        .await
}

/// `changeMemberRole`: owners and above grant or take the owner role; the last active owner
/// cannot be demoted.
pub async fn change_role(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    role: MemberRole,
) -> AppResult<MemberRow> {
    caller
        .change("member.change_role", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                owner_rule(&mut tx, &tenant, member.role)?;
                owner_rule(&mut tx, &tenant, role)?;
                tx.audit.details = json!({ "from": member.role, "to": role });
                if member.role == MemberRole::Owner
                    && role != MemberRole::Owner
                    && other_owners(tx.conn, tenant.id, id).await? == 0
                {
                    return Err(AppError::Conflict(
                        "the last owner of a tenant cannot be demoted".into(),
                    ));
                }
                diesel::update(memberships::table.filter(memberships::id.eq(id)))
                    .set((
                        memberships::role.eq(role),
                        memberships::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(tx.conn)
                    .await?;
                row(tx.conn, id).await
            },
        )
        .await
}

/// `forceLogoutMember`: ends the member's Authentik sessions (only theirs) at once; returns
/// how many ended.
pub async fn force_logout(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    tenant: &str,
    id: AppResult<MemberId>,
) -> AppResult<(MemberRow, usize)> {
    caller
        .change("member.force_logout", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                not_yourself(&mut tx, &member, "log out")?;
                owner_rule(&mut tx, &tenant, member.role)?;
                let ended = match (authentik, member.authentik_user_pk) {
                    (Some(client), Some(pk)) => {
                        let user = UserRef {
                            pk,
                            username: member.email.clone(),
                        };
                        client.terminate_sessions(&user).await?
                    }
                    _ => 0,
                };
                tx.audit.details = json!({ "email": member.email, "sessionsEnded": ended });
                Ok((row(tx.conn, id).await?, ended))
            },
        )
        .await
}
