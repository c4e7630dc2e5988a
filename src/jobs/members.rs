//! The `member_step` job: one upstream step of a member operation (create, suspend, resume,
//! reset the password, remove).
//!
//! Each attempt is two short transactions around the upstream calls, never one held open
//! across them: *start* (lease still ours → step `running`, event, the sealed password
//! opened if the step needs it) and *settle* (lease still ours → step `ok` / `skipped` /
//! `pending` with a backoff / `error`, the handle stored, the job settled, the operation
//! ended when it was the last open step). Every upstream call is an idempotent "ensure" or
//! an absolute update, so an attempt cut short and run again creates nothing twice.
//!
//! A person in several tenants has one Authentik user and one oCIS user: suspending or
//! removing them in one tenant only takes them out of that tenant's group and files space
//! (and deletes that tenant's mailbox); their user objects go with their last membership.
//! Otherwise suspending disables both users (Authentik `is_active`, oCIS `accountEnabled`:
//! oCIS signs its users in through Authentik, so the first already locks the files; the
//! second holds even for a client with an app token). A password reset does not touch oCIS:
//! its users sign in through Authentik, never with the oCIS password. A person who
//! already has an Authentik (or oCIS) user keeps its password when another tenant adds them:
//! the one-time password then opens the new mailbox only.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::JobEnv;
use crate::db::schema::{memberships, tenants, users};
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::domain::members::steps::{self, LockedMember, NewEvent, StepJob};
use crate::domain::members::{MemberOperation, MemberStep, limits, seats};
use crate::domain::steps::{self as shared, Attempt, Settled, StepStatus};
use crate::domain::tenants::TenantStatus;
use crate::metrics::JobOutcome;
use crate::upstream::{Secret, authentik, ocis, stalwart};

/// What an attempt achieved.
enum Achieved {
    /// Done; the upstream handle to keep, if the step made one.
    Ok(Option<Handle>),
    /// Nothing to do, and why.
    Skipped(String),
}

/// An upstream id a step learned.
enum Handle {
    /// The user, and the tenant's group when this step had to ensure it.
    AuthentikUser(i64, Option<String>),
    Mailbox(String),
    OcisUser(String),
}

struct Failure {
    message: String,
    retryable: bool,
}

fn failure<E: std::fmt::Display>(system: &str, error: &E, retryable: bool) -> Failure {
    Failure {
        message: format!("{system}: {error}"),
        retryable,
    }
}

fn authentik_failure(e: &authentik::AuthentikError) -> Failure {
    failure(
        "authentik",
        e,
        matches!(e, authentik::AuthentikError::Call(_)),
    )
}

fn stalwart_failure(e: &stalwart::StalwartError) -> Failure {
    failure("stalwart", e, matches!(e, stalwart::StalwartError::Call(_)))
}

fn ocis_failure(e: &ocis::OcisError) -> Failure {
    failure("ocis", e, matches!(e, ocis::OcisError::Call(_)))
}

/// Whether `step` of `operation` needs the one-time password.
fn needs_password(operation: MemberOperation, step: MemberStep, member: &LockedMember) -> bool {
    match operation {
        // A person who already has a user (another tenant's member) keeps their password.
        MemberOperation::Create => match step {
            MemberStep::Stalwart => true,
            MemberStep::Authentik => member.authentik_user_pk.is_none(),
            MemberStep::Ocis => member.ocis_user_id.is_none(),
        },
        MemberOperation::ResetPassword => step != MemberStep::Ocis,
        _ => false,
    }
}

/// Runs one attempt of a member step job.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let Ok(StepJob { member: id, step }) = serde_json::from_value(job.payload.clone()) else {
        return super::provisioning::settle_only(
            env,
            job,
            worker,
            Settle::Dead("malformed job payload".into()),
        )
        .await;
    };
    let attempt = job.attempts;
    let key = &env.sealing;
    let mut conn = env.pool.get().await?;
    let started = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(None);
            }
            let Some(member) = steps::lock_member(conn, id).await? else {
                queue::settle(
                    conn,
                    job.id,
                    &Settle::Dead("the member no longer exists".into()),
                )
                .await?;
                return Ok(None);
            };
            let Some(operation) = member.operation else {
                queue::settle(conn, job.id, &Settle::Dead("no member operation".into())).await?;
                return Ok(None);
            };
            steps::start_step(conn, id, step, attempt).await?;
            let message = shared::started(attempt, job.max_attempts);
            steps::append_events(
                conn,
                id,
                member.tenant_id,
                operation,
                &[NewEvent::step(step, StepStatus::Running, message)],
            )
            .await?;
            let password = if needs_password(operation, step, &member) {
                match steps::sealed_of(conn, id).await? {
                    Some(sealed) => Some(key.open(&sealed).map_err(|e| e.to_string())),
                    None => Some(Err("the one-time password is no longer kept".to_owned())),
                }
            } else {
                None
            };
            Ok(Some((member, operation, password)))
        })
        .await?;
    drop(conn);
    let Some((member, operation, password)) = started else {
        return Ok(JobOutcome::Abandoned);
    };

    let result = if job.attempts > job.max_attempts {
        Err(Failure {
            message: format!("no attempt finished in {} tries", job.max_attempts),
            retryable: false,
        })
    } else {
        match password {
            Some(Err(why)) => Err(Failure {
                message: format!("{why}; reset the member's password"),
                retryable: false,
            }),
            Some(Ok(pw)) => perform(env, operation, step, &member, Some(&pw)).await,
            None => perform(env, operation, step, &member, None).await,
        }
    };

    let config = &env.config;
    let jitter = (job.id as f64 * 0.618_033_988_7).fract();
    let mut conn = env.pool.get().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            let Some(member) = steps::lock_member(conn, id).await? else {
                queue::settle(
                    conn,
                    job.id,
                    &Settle::Dead("the member no longer exists".into()),
                )
                .await?;
                return Ok(JobOutcome::Dead);
            };
            let attempted = match &result {
                Ok(Achieved::Ok(handle)) => {
                    if let Some(handle) = handle {
                        store_handle(conn, &member, handle).await?;
                    }
                    Attempt::Done
                }
                Ok(Achieved::Skipped(why)) => Attempt::Skipped(why),
                Err(f) => Attempt::Failed {
                    message: &f.message,
                    retryable: f.retryable,
                },
            };
            let Settled {
                status,
                last_error: error,
                event,
                settle,
                outcome,
            } = shared::settle(step, job, attempted, || {
                config.backoff(u32::try_from(attempt).unwrap_or(1), jitter)
            });
            steps::set_step(conn, id, step, status, attempt, error).await?;
            steps::append_events(conn, id, member.tenant_id, operation, &[event]).await?;
            queue::settle(conn, job.id, &settle).await?;
            let ended = steps::end_if_settled(conn, &member).await?;
            let removed = operation == MemberOperation::Remove
                && ended
                    .iter()
                    .any(|e| e.terminal && e.status == StepStatus::Ok);
            if removed && member.tenant_status != TenantStatus::Terminated {
                // A seat freed: usage may fall back below a warning threshold.
                seats::announce(conn, member.tenant_id).await?;
            }
            Ok(outcome)
        })
        .await?;
    Ok(outcome)
}

async fn store_handle(
    conn: &mut diesel_async::AsyncPgConnection,
    member: &LockedMember,
    handle: &Handle,
) -> QueryResult<()> {
    let user = users::table.find(member.user_id);
    match handle {
        Handle::AuthentikUser(pk, group) => {
            if let Some(group) = group {
                // Kept on the tenant (as its provisioning does), so teardown finds it.
                diesel::update(
                    tenants::table
                        .find(member.tenant_id)
                        .filter(tenants::authentik_group_id.is_null()),
                )
                .set(tenants::authentik_group_id.eq(group))
                .execute(conn)
                .await?;
            }
            diesel::update(user)
                .set(users::authentik_user_pk.eq(pk))
                .execute(conn)
                .await?
        }
        Handle::OcisUser(id) => {
            diesel::update(user)
                .set(users::ocis_user_id.eq(id))
                .execute(conn)
                .await?
        }
        Handle::Mailbox(id) => {
            diesel::update(memberships::table.filter(memberships::id.eq(member.id)))
                .set(memberships::stalwart_account_id.eq(id))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

fn not_configured(system: &str) -> Result<Achieved, Failure> {
    Ok(Achieved::Skipped(format!("{system} is not configured")))
}

async fn perform(
    env: &JobEnv,
    operation: MemberOperation,
    step: MemberStep,
    member: &LockedMember,
    password: Option<&Secret>,
) -> Result<Achieved, Failure> {
    match step {
        MemberStep::Authentik => authentik_step(env, operation, member, password).await,
        MemberStep::Stalwart => stalwart_step(env, operation, member, password).await,
        MemberStep::Ocis => ocis_step(env, operation, member, password).await,
    }
}

async fn tenant_group(
    client: &dyn authentik::AuthentikClient,
    member: &LockedMember,
) -> Result<String, Failure> {
    if let Some(pk) = &member.tenant_group_id {
        return Ok(pk.clone());
    }
    let group = authentik::TenantGroup {
        tenant_id: member.tenant_id.to_string(),
        tenant_slug: member.tenant_slug.clone(),
    };
    client
        .ensure_tenant_group(&group)
        .await
        .map(|g| g.pk)
        .map_err(|e| authentik_failure(&e))
}

async fn authentik_step(
    env: &JobEnv,
    operation: MemberOperation,
    member: &LockedMember,
    password: Option<&Secret>,
) -> Result<Achieved, Failure> {
    let Some(client) = &env.upstreams.authentik else {
        return not_configured("Authentik");
    };
    let client = client.as_ref();
    let user_pk = match (operation, member.authentik_user_pk) {
        (MemberOperation::Create, _) => {
            let user = client
                .ensure_user(&authentik::NewUser {
                    username: member.email.clone(),
                    name: member.name.clone(),
                    email: Some(member.email.clone()),
                    path: None,
                })
                .await
                .map_err(|e| authentik_failure(&e))?;
            user.pk
        }
        (_, Some(pk)) => pk,
        (_, None) => return Ok(Achieved::Skipped("the member has no Authentik user".into())),
    };
    let err = |e: authentik::AuthentikError| authentik_failure(&e);
    match operation {
        MemberOperation::Create => {
            if let Some(pw) = password {
                client.set_password(user_pk, pw).await.map_err(err)?;
            }
            let group = tenant_group(client, member).await?;
            client
                .add_user_to_group(&group, user_pk)
                .await
                .map_err(err)?;
            let learned = member.tenant_group_id.is_none().then_some(group);
            Ok(Achieved::Ok(Some(Handle::AuthentikUser(user_pk, learned))))
        }
        MemberOperation::Suspend | MemberOperation::Resume => {
            let active = operation == MemberOperation::Resume;
            if member.in_other_tenants {
                // One sign-in for several tenants: only this tenant's group changes.
                if active {
                    let group = tenant_group(client, member).await?;
                    client
                        .add_user_to_group(&group, user_pk)
                        .await
                        .map_err(err)?;
                } else if let Some(group) = &member.tenant_group_id {
                    client
                        .remove_user_from_group(group, user_pk)
                        .await
                        .map_err(err)?;
                }
            } else {
                client.set_user_active(user_pk, active).await.map_err(err)?;
            }
            Ok(Achieved::Ok(None))
        }
        MemberOperation::ResetPassword => {
            let pw = password.ok_or_else(|| Failure {
                message: "no password to set".into(),
                retryable: false,
            })?;
            client.set_password(user_pk, pw).await.map_err(err)?;
            Ok(Achieved::Ok(None))
        }
        MemberOperation::ChangeRole => Ok(Achieved::Skipped(
            "the role in the tenant is not an Authentik matter".into(),
        )),
        MemberOperation::Remove => {
            if member.in_other_tenants {
                // A deleted group (terminated tenant) has nobody left to remove.
                let Some(group) = &member.tenant_group_id else {
                    return Ok(Achieved::Ok(None));
                };
                match client.remove_user_from_group(group, user_pk).await {
                    Ok(()) | Err(authentik::AuthentikError::NotFound { .. }) => {}
                    Err(e) => return Err(err(e)),
                }
            } else {
                match client.delete_user(user_pk).await {
                    Ok(()) | Err(authentik::AuthentikError::NotFound { .. }) => {}
                    Err(e) => return Err(err(e)),
                }
            }
            Ok(Achieved::Ok(None))
        }
    }
}

async fn stalwart_step(
    env: &JobEnv,
    operation: MemberOperation,
    member: &LockedMember,
    password: Option<&Secret>,
) -> Result<Achieved, Failure> {
    let Some(client) = &env.upstreams.stalwart else {
        return not_configured("Stalwart");
    };
    let err = |e: stalwart::StalwartError| stalwart_failure(&e);
    if operation == MemberOperation::Create {
        let Some((local, domain)) = member.email.rsplit_once('@') else {
            return Err(Failure {
                message: "the member's address has no domain".into(),
                retryable: false,
            });
        };
        let pw = password.ok_or_else(|| Failure {
            message: "no password to set".into(),
            retryable: false,
        })?;
        let domain_id = client.ensure_domain(domain).await.map_err(err)?.id;
        // The plan's quota (the catalogue's, through billing); the default if the tenant is gone.
        let quota = {
            let mut conn = env.pool.get().await.map_err(|e| Failure {
                message: format!("database: {e}"),
                retryable: true,
            })?;
            limits::limits_for(&mut conn, &[member.tenant_id])
                .await
                .map_err(|e| Failure {
                    message: format!("database: {e}"),
                    retryable: true,
                })?
                .get(&member.tenant_id)
                .map_or(limits::DEFAULT_MAILBOX_QUOTA_BYTES, |l| {
                    l.mailbox_quota_bytes
                })
        };
        let account = client
            .ensure_account(&stalwart::NewAccount {
                name: local.to_owned(),
                domain_id,
                password: pw.clone(),
                quota_bytes: u64::try_from(quota).ok(),
                description: Some(member.name.clone()),
            })
            .await
            .map_err(err)?;
        return Ok(Achieved::Ok(Some(Handle::Mailbox(account.id))));
    }
    let Some(account) = &member.stalwart_account_id else {
        return Ok(Achieved::Skipped("the member has no mailbox".into()));
    };
    let update = match operation {
        // The account's sign-in permission is switched off: its password is kept.
        MemberOperation::Suspend => stalwart::AccountUpdate {
            enabled: Some(false),
            ..Default::default()
        },
        MemberOperation::Resume => stalwart::AccountUpdate {
            enabled: Some(true),
            ..Default::default()
        },
        MemberOperation::ResetPassword => stalwart::AccountUpdate {
            password: password.cloned(),
            ..Default::default()
        },
        MemberOperation::Remove => {
            client.delete_account(account).await.map_err(err)?;
            return Ok(Achieved::Ok(None));
        }
        MemberOperation::ChangeRole => {
            return Ok(Achieved::Skipped("the mailbox has no role".into()));
        }
        MemberOperation::Create => unreachable!("handled above"),
    };
    client.update_account(account, &update).await.map_err(err)?;
    Ok(Achieved::Ok(None))
}

async fn ocis_step(
    env: &JobEnv,
    operation: MemberOperation,
    member: &LockedMember,
    password: Option<&Secret>,
) -> Result<Achieved, Failure> {
    let Some(client) = &env.upstreams.ocis else {
        return not_configured("oCIS");
    };
    let err = |e: ocis::OcisError| ocis_failure(&e);
    match operation {
        MemberOperation::Create => {
            let user_id = match (&member.ocis_user_id, password) {
                (Some(id), _) => id.clone(),
                (None, Some(pw)) => {
                    client
                        .ensure_user(&ocis::NewUser {
                            username: member.email.clone(),
                            display_name: member.name.clone(),
                            mail: member.email.clone(),
                            password: pw.clone(),
                        })
                        .await
                        .map_err(err)?
                        .id
                }
                (None, None) => {
                    return Err(Failure {
                        message: "the person has no oCIS user yet".into(),
                        retryable: false,
                    });
                }
            };
            if let Some(space) = &member.tenant_space_id {
                client
                    .add_user_to_space(space, &user_id, member.role.space_role())
                    .await
                    .map_err(err)?;
            }
            Ok(Achieved::Ok(Some(Handle::OcisUser(user_id))))
        }
        MemberOperation::ResetPassword => Ok(Achieved::Skipped(
            "oCIS users sign in through Authentik".into(),
        )),
        _ => {
            let Some(user) = &member.ocis_user_id else {
                return Ok(Achieved::Skipped("the member has no oCIS user".into()));
            };
            ocis_access(client.as_ref(), operation, member, user).await
        }
    }
}

/// Suspend, resume, change the role, remove: this tenant's space grant for a person in
/// several tenants, else the user itself (disabled, enabled, deleted).
async fn ocis_access(
    client: &dyn ocis::OcisClient,
    operation: MemberOperation,
    member: &LockedMember,
    user: &str,
) -> Result<Achieved, Failure> {
    let err = |e: ocis::OcisError| ocis_failure(&e);
    let space = member.tenant_space_id.as_deref();
    let shared = member.in_other_tenants;
    // This tenant's grant: (re)given on resume and role changes, taken from a person whose
    // user stays for another tenant.
    match (operation, space) {
        (MemberOperation::Resume | MemberOperation::ChangeRole, Some(space)) => client
            .add_user_to_space(space, user, member.role.space_role())
            .await
            .map_err(err)?,
        (MemberOperation::Suspend | MemberOperation::Remove, Some(space)) if shared => client
            .remove_user_from_space(space, user)
            .await
            .map_err(err)?,
        (MemberOperation::ChangeRole, None) => {
            return Ok(Achieved::Skipped("the tenant has no files space".into()));
        }
        _ => {}
    }
    if shared {
        return Ok(Achieved::Ok(None));
    }
    // The user itself, when this is the person's only tenant.
    match operation {
        MemberOperation::Suspend | MemberOperation::Resume => {
            let enabled = operation == MemberOperation::Resume;
            match client.set_user_enabled(user, enabled).await {
                Ok(()) => {}
                Err(ocis::OcisError::NotFound { .. }) => {
                    return Ok(Achieved::Skipped("the oCIS user no longer exists".into()));
                }
                Err(e) => return Err(err(e)),
            }
        }
        MemberOperation::Remove => client.delete_user(user).await.map_err(err)?,
        _ => {}
    }
    Ok(Achieved::Ok(None))
}

/// Runs one attempt of a `tenant_group_delete` job: deletes a terminated tenant's Authentik
/// group (already gone counts as deleted) and forgets its id.
pub async fn run_group_delete(
    env: &JobEnv,
    job: &ClaimedJob,
    worker: &str,
) -> anyhow::Result<JobOutcome> {
    use crate::domain::members::teardown::GroupJob;
    let Ok(GroupJob { tenant }) = serde_json::from_value(job.payload.clone()) else {
        return super::provisioning::settle_only(
            env,
            job,
            worker,
            Settle::Dead("malformed job payload".into()),
        )
        .await;
    };
    let group: Option<Option<String>> = {
        let mut conn = env.pool.get().await?;
        tenants::table
            .find(tenant)
            .select(tenants::authentik_group_id)
            .first(&mut conn)
            .await
            .optional()?
    };
    let result = match (group.flatten(), &env.upstreams.authentik) {
        (Some(pk), Some(client)) => match client.delete_group(&pk).await {
            Ok(()) | Err(authentik::AuthentikError::NotFound { .. }) => Ok(true),
            Err(e) => Err(authentik_failure(&e)),
        },
        _ => Ok(false),
    };
    let (settle, outcome) = match &result {
        Ok(_) => (Settle::Done, JobOutcome::Done),
        Err(f) if f.retryable && !job.is_last_attempt() => (
            Settle::RetryAfter(
                env.config
                    .backoff(u32::try_from(job.attempts).unwrap_or(1), 0.5),
                f.message.clone(),
            ),
            JobOutcome::Retried,
        ),
        Err(f) => (Settle::Dead(f.message.clone()), JobOutcome::Dead),
    };
    let deleted = matches!(result, Ok(true));
    let mut conn = env.pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async move |conn| {
        if !queue::hold(conn, job.id, worker).await? {
            return Ok(JobOutcome::Abandoned);
        }
        if deleted {
            diesel::update(tenants::table.find(tenant))
                .set(tenants::authentik_group_id.eq(None::<String>))
                .execute(conn)
                .await?;
        }
        queue::settle(conn, job.id, &settle).await?;
        Ok(outcome)
    })
    .await
}
