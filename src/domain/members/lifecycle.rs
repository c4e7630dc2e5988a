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
//! is how many sessions ended), after its checks' transaction ended.

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

/// A lifecycle change whose upstream work is queued as member step jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// `suspendMember`: access ends at once; Authentik and oCIS disable the user (or, for a
    /// person in other tenants too, take them out of this tenant's group and space) and the
    /// mailbox's sign-in is disabled, its password kept.
    Suspend,
    /// `resumeMember`: the upstream objects are enabled again; the member is `ACTIVE` once
    /// they are. Refused for a suspended tenant.
    Resume,
    /// `removeMember`: access ends at once; the jobs delete the mailbox, and the Authentik
    /// and oCIS users unless the person belongs to another tenant (then only this tenant's
    /// group membership and space grant go); the membership row goes when they finished.
    /// The last owner cannot be removed.
    Remove,
}

/// What a queued change checks and does.
struct Rule {
    action: &'static str,
    operation: MemberOperation,
    steps: &'static [MemberStep],
    /// Refused on yourself, with this verb.
    not_on_yourself: Option<&'static str>,
    /// The statuses it applies to (`None`: any), and the participle for the refusal.
    from: Option<(&'static [MembershipStatus], &'static str)>,
    /// Refused for a suspended or terminated tenant.
    needs_live_tenant: bool,
    /// Refused for the last active owner.
    keeps_last_owner: bool,
    /// The status the membership takes at once.
    status_now: Option<MembershipStatus>,
    why: &'static str,
}

impl Queued {
    const fn rule(self) -> Rule {
        match self {
            Self::Suspend => Rule {
                action: "member.suspend",
                operation: MemberOperation::Suspend,
                steps: MemberStep::ALL,
                not_on_yourself: Some("suspend"),
                from: Some((&[MembershipStatus::Active], "suspended")),
                needs_live_tenant: false,
                keeps_last_owner: false,
                status_now: Some(MembershipStatus::Suspended),
                why: "queued by suspendMember",
            },
            Self::Resume => Rule {
                action: "member.resume",
                operation: MemberOperation::Resume,
                steps: MemberStep::ALL,
                not_on_yourself: None,
                from: Some((&[MembershipStatus::Suspended], "resumed")),
                needs_live_tenant: true,
                keeps_last_owner: false,
                status_now: None,
                why: "queued by resumeMember",
            },
            Self::Remove => Rule {
                action: "member.remove",
                operation: MemberOperation::Remove,
                steps: MemberStep::ALL,
                not_on_yourself: Some("remove"),
                from: None,
                needs_live_tenant: false,
                keeps_last_owner: true,
                status_now: Some(MembershipStatus::Suspended),
                why: "queued by removeMember",
            },
        }
    }
}

/// `resetMemberPassword`'s rule: a new one-time password, set on SSO and mailbox together.
const RESET_PASSWORD: Rule = Rule {
    action: "member.reset_password",
    operation: MemberOperation::ResetPassword,
    steps: &[MemberStep::Authentik, MemberStep::Stalwart],
    not_on_yourself: None,
    from: Some((
        &[MembershipStatus::Active, MembershipStatus::Suspended],
        "given a new password",
    )),
    needs_live_tenant: false,
    keeps_last_owner: false,
    status_now: None,
    why: "queued by resetMemberPassword",
};

/// Runs a queued lifecycle change on member `id` of `tenant` (tenant admins and up; owners
/// only for an owner): every refusal before anything is written, then the status, the
/// sealed password (if any) and the operation's step jobs in the change's transaction.
async fn queue(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
    rule: Rule,
    sealed: Option<Vec<u8>>,
) -> AppResult<MemberRow> {
    caller
        .change(rule.action, "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                if let Some(verb) = rule.not_on_yourself {
                    not_yourself(&mut tx, &member, verb)?;
                }
                owner_rule(&mut tx, &tenant, member.role)?;
                if rule.needs_live_tenant {
                    members_frozen(&tenant, "resumed")?;
                }
                if let Some((allowed, what)) = rule.from {
                    require_status(&member, allowed, what)?;
                }
                if rule.keeps_last_owner
                    && member.role == MemberRole::Owner
                    && other_owners(tx.conn, tenant.id, id).await? == 0
                {
                    return Err(AppError::Conflict(
                        "the last owner of a tenant cannot be removed".into(),
                    ));
                }
                idle(tx.conn, &member).await?;
                if let Some(status) = rule.status_now {
                    set_status(tx.conn, id, status).await?;
                }
                if let Some(sealed) = &sealed {
                    steps::store_sealed(tx.conn, id, sealed).await?;
                }
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    rule.operation,
                    rule.steps,
                    max_attempts,
                    rule.why,
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

/// `suspendMember`, `resumeMember` or `removeMember` (see [`Queued`]).
pub async fn queued(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    max_attempts: u32,
    change: Queued,
) -> AppResult<MemberRow> {
    queue(caller, tenant, id, max_attempts, change.rule(), None).await
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
    let password = super::password::generate();
    let sealed = key.seal(&password);
    let row = queue(
        caller,
        tenant,
        id,
        max_attempts,
        RESET_PASSWORD,
        Some(sealed),
    )
    .await?;
    Ok((row, password))
}

/// `changeMemberRole`: owners and above grant or take the owner role; the last active owner
/// cannot be demoted. When the member's role in the tenant's files space changes (manager ↔
/// editor) and they have one there, a job sets it on oCIS.
pub async fn change_role(
    caller: &Caller,
    tenant: &str,
    id: AppResult<MemberId>,
    role: MemberRole,
    max_attempts: u32,
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
                let in_space = matches!(
                    member.status,
                    MembershipStatus::Active | MembershipStatus::Suspended
                ) && member.ocis_user_id.is_some()
                    && member.tenant_space_id.is_some();
                let on_ocis = in_space && member.role.space_role() != role.space_role();
                if on_ocis {
                    idle(tx.conn, &member).await?;
                }
                diesel::update(memberships::table.filter(memberships::id.eq(id)))
                    .set((
                        memberships::role.eq(role),
                        memberships::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(tx.conn)
                    .await?;
                if on_ocis {
                    steps::queue_operation(
                        tx.conn,
                        id,
                        tenant.id,
                        MemberOperation::ChangeRole,
                        &[MemberStep::Ocis],
                        max_attempts,
                        "queued by changeMemberRole",
                    )
                    .await?;
                }
                row(tx.conn, id).await
            },
        )
        .await
}

/// `forceLogoutMember`: ends the member's Authentik sessions (only theirs) and returns how
/// many ended. The checks run in a transaction that ends before Authentik is called (its
/// answer is the mutation's); the audit row is written after the call, on its own.
pub async fn force_logout(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    tenant: &str,
    id: AppResult<MemberId>,
) -> AppResult<(MemberRow, usize)> {
    caller
        .change("member.force_logout", "member")
        .run_then(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let id = id?;
                tx.audit.target_id = Some(id.to_string());
                let member = member_of(tx.conn, &tenant, id).await?;
                not_yourself(&mut tx, &member, "log out")?;
                owner_rule(&mut tx, &tenant, member.role)?;
                tx.audit.details = json!({ "email": member.email });
                Ok((row(tx.conn, id).await?, member))
            },
            async move |(row, member): (MemberRow, LockedMember)| {
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
                Ok(((row, ended), json!({ "sessionsEnded": ended })))
            },
        )
        .await
}
