//! The `provisioning_step` job: ensure one upstream object of a tenant.
//!
//! Each attempt is two short transactions around the upstream call, never a transaction
//! held open across it: *start* (lease still ours → step `running`, event) and *settle*
//! (lease still ours → step `ok` / `skipped` / `pending` with a backoff / `error`, the job
//! settled the same way, the run ended if it was the last open step). Upstream calls are
//! idempotent ("ensure"), so an attempt cut short by a crash and run again by another
//! worker creates nothing twice.

use diesel_async::AsyncConnection;

use super::JobEnv;
use crate::domain::billing::subscription::{self as subs, DEFAULT_CURRENCY, DEFAULT_CYCLE};
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::domain::provisioning::state::{self, LockedTenant, NewEvent, StepJob, StepUpdate};
use crate::domain::provisioning::{Step, StepStatus};
use crate::domain::steps::{self, Attempt, Settled};
use crate::domain::tenants::TenantStatus;
use crate::metrics::JobOutcome;
use crate::upstream::{authentik, ocis, stripe};

/// Quota of a tenant's project space until plans carry one: 100 GiB.
pub const DEFAULT_SPACE_QUOTA_BYTES: u64 = 100 * 1024 * 1024 * 1024;

/// What an attempt achieved.
enum Achieved {
    /// The object exists; its id.
    Ok(String),
    /// Nothing to do, and why.
    Skipped(String),
}

/// Why an attempt failed, and whether another attempt may help.
struct Failure {
    message: String,
    retryable: bool,
}

impl Failure {
    fn from_call<E: std::fmt::Display>(system: &str, error: &E, retryable: bool) -> Self {
        Self {
            message: format!("{system}: {error}"),
            retryable,
        }
    }
}

/// Runs one attempt of a step job; `Ok` with how the job ended.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let parsed = serde_json::from_value::<StepJob>(job.payload.clone())
        .ok()
        .map(|p| (p.tenant, p.step));
    let Some((tenant_id, step)) = parsed else {
        // Nothing can ever run this job: dead-letter it.
        return settle_only(
            env,
            job,
            worker,
            Settle::Dead("malformed job payload".into()),
        )
        .await;
    };
    let mut conn = env.pool.get().await?;
    let attempt = job.attempts;
    let started = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(None);
            }
            let Some(tenant) = state::lock_tenant(conn, tenant_id).await? else {
                queue::settle(
                    conn,
                    job.id,
                    &Settle::Dead("the tenant no longer exists".into()),
                )
                .await?;
                return Ok(None);
            };
            let known_id = state::start_step(conn, tenant_id, step, attempt).await?;
            let message = steps::started(attempt, job.max_attempts);
            state::append_events(
                conn,
                tenant_id,
                &[NewEvent::step(step, StepStatus::Running, message)],
            )
            .await?;
            Ok(Some((tenant, known_id)))
        })
        .await?;
    drop(conn);
    let Some((tenant, known_id)) = started else {
        return Ok(JobOutcome::Abandoned);
    };

    let result = if job.attempts > job.max_attempts {
        // Every allowed attempt was claimed and none settled (the worker stopped each time).
        Err(Failure {
            message: format!("no attempt finished in {} tries", job.max_attempts),
            retryable: false,
        })
    } else if tenant.status == TenantStatus::Terminated {
        Ok(Achieved::Skipped("the tenant is terminated".into()))
    } else {
        perform(env, step, &tenant, known_id).await
    };

    let config = &env.config;
    let jitter = jitter(job);
    let mut conn = env.pool.get().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            let Some(tenant) = state::lock_tenant(conn, tenant_id).await? else {
                queue::settle(
                    conn,
                    job.id,
                    &Settle::Dead("the tenant no longer exists".into()),
                )
                .await?;
                return Ok(JobOutcome::Dead);
            };
            let attempted = match &result {
                Ok(Achieved::Ok(_)) => Attempt::Done,
                Ok(Achieved::Skipped(why)) => Attempt::Skipped(why),
                Err(failure) => Attempt::Failed {
                    message: &failure.message,
                    retryable: failure.retryable,
                },
            };
            let Settled {
                status,
                last_error,
                event,
                settle,
                outcome,
            } = steps::settle(step, job, attempted, || {
                config.backoff(u32::try_from(attempt).unwrap_or(1), jitter)
            });
            let update = StepUpdate {
                status,
                attempts: attempt,
                last_error,
                upstream_id: match &result {
                    Ok(Achieved::Ok(id)) => Some(id),
                    _ => None,
                },
            };
            state::set_step(conn, tenant_id, step, &update).await?;
            if let Some(id) = update.upstream_id {
                state::store_handle(conn, tenant_id, step, id).await?;
            }
            state::append_events(conn, tenant_id, &[event]).await?;
            if step == Step::StripeCustomer
                && update.status == StepStatus::Ok
                && subs::stripe_price(conn, &tenant.plan, DEFAULT_CURRENCY, DEFAULT_CYCLE)
                    .await?
                    .is_some()
            {
                // The subscription needs the customer: it follows in the same run (tenants
                // whose plan has no Stripe price have no subscription step).
                let after = "queued after the Stripe customer";
                let next = [Step::StripeSubscription];
                state::queue_steps(
                    conn,
                    tenant_id,
                    &next,
                    u32::try_from(job.max_attempts).unwrap_or(1),
                    after,
                )
                .await?;
            }
            queue::settle(conn, job.id, &settle).await?;
            state::end_run_if_settled(conn, &tenant).await?;
            Ok(outcome)
        })
        .await?;
    Ok(outcome)
}

/// Settles a job without touching any step (it cannot be run at all).
pub async fn settle_only(
    env: &JobEnv,
    job: &ClaimedJob,
    worker: &str,
    how: Settle,
) -> anyhow::Result<JobOutcome> {
    let mut conn = env.pool.get().await?;
    let how = &how;
    let settled = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(false);
            }
            queue::settle(conn, job.id, how).await?;
            Ok(true)
        })
        .await?;
    Ok(if settled {
        JobOutcome::Dead
    } else {
        JobOutcome::Abandoned
    })
}

/// A stable spread in `[0, 1)` per job and attempt.
fn jitter(job: &ClaimedJob) -> f64 {
    let mixed = (job.id as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(job.attempts.unsigned_abs()).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

fn not_configured(system: &str) -> Result<Achieved, Failure> {
    Ok(Achieved::Skipped(format!("{system} is not configured")))
}

/// Calls the upstream for `step`.
async fn perform(
    env: &JobEnv,
    step: Step,
    tenant: &LockedTenant,
    known_id: Option<String>,
) -> Result<Achieved, Failure> {
    let up = &env.upstreams;
    match step {
        Step::AuthentikGroup => {
            let Some(client) = &up.authentik else {
                return not_configured("Authentik");
            };
            let group = authentik::TenantGroup {
                tenant_id: tenant.id.to_string(),
                tenant_slug: tenant.slug.clone(),
            };
            client
                .ensure_tenant_group(&group)
                .await
                .map(|g| Achieved::Ok(g.pk))
                .map_err(|e| {
                    let retryable = matches!(e, authentik::AuthentikError::Call(_));
                    Failure::from_call("authentik", &e, retryable)
                })
        }
        Step::StalwartDomain => {
            let Some(domain) = &tenant.primary_domain else {
                return Ok(Achieved::Skipped("the tenant has no primary domain".into()));
            };
            let Some(client) = &up.stalwart else {
                return not_configured("Stalwart");
            };
            client
                .ensure_domain(domain)
                .await
                .map(|d| Achieved::Ok(d.id))
                .map_err(|e| {
                    let retryable = matches!(e, crate::upstream::stalwart::StalwartError::Call(_));
                    Failure::from_call("stalwart", &e, retryable)
                })
        }
        Step::OcisSpace => {
            let Some(client) = &up.ocis else {
                return not_configured("oCIS");
            };
            let space = ocis::EnsureSpace {
                name: tenant.slug.clone(),
                description: Some(tenant.name.clone()),
                quota_bytes: DEFAULT_SPACE_QUOTA_BYTES,
                existing_id: tenant.ocis_space_id.clone().or(known_id),
            };
            client
                .ensure_project_space(&space)
                .await
                .map(|s| Achieved::Ok(s.id))
                .map_err(|e| {
                    let retryable = matches!(e, ocis::OcisError::Call(_));
                    Failure::from_call("ocis", &e, retryable)
                })
        }
        Step::StripeSubscription => subscription(env, tenant, known_id).await,
        Step::StripeCustomer => {
            let Some(client) = &up.stripe else {
                return not_configured("Stripe");
            };
            let request = stripe::EnsureCustomer {
                tenant_id: tenant.id.to_string(),
                existing_id: known_id,
                email: None,
                name: tenant.name.clone(),
            };
            let customer = client.ensure_customer(&request).await.map_err(|e| {
                let retryable = matches!(e, stripe::StripeError::Call(_));
                Failure::from_call("stripe", &e, retryable)
            })?;
            // Invoices Stripe has that the webhook did not bring (a reconcile backfills).
            let mut conn = env.pool.get().await.map_err(|e| Failure {
                message: format!("database: {e}"),
                retryable: true,
            })?;
            crate::domain::billing::invoices::backfill(
                &mut conn,
                client.as_ref(),
                tenant.id,
                &customer.id,
            )
            .await
            .map_err(|message| Failure {
                message,
                retryable: true,
            })?;
            Ok(Achieved::Ok(customer.id))
        }
    }
}

/// The `stripe_subscription` step: the tenant's subscription to its plan's Stripe price in
/// the default currency and cycle, created once (ensure semantics) and mirrored.
async fn subscription(
    env: &JobEnv,
    tenant: &LockedTenant,
    known_id: Option<String>,
) -> Result<Achieved, Failure> {
    let db = |e: crate::error::AppError| Failure {
        message: format!("database: {e}"),
        retryable: true,
    };
    let Some(client) = &env.upstreams.stripe else {
        return not_configured("Stripe");
    };
    let Some(customer) = &tenant.stripe_customer_id else {
        return Err(Failure {
            message: "the tenant has no Stripe customer yet".into(),
            retryable: true,
        });
    };
    let mut conn = env
        .pool
        .get()
        .await
        .map_err(|e| db(crate::error::AppError::from(e)))?;
    let Some((plan, seats)) = subs::opening(&mut conn, tenant.id).await.map_err(db)? else {
        return Ok(Achieved::Skipped("the tenant has no plan".into()));
    };
    let price = subs::stripe_price(&mut conn, &plan.key, DEFAULT_CURRENCY, DEFAULT_CYCLE)
        .await
        .map_err(db)?;
    let Some(price_id) = price else {
        return Ok(Achieved::Skipped(format!(
            "plan {} has no Stripe price in {DEFAULT_CURRENCY} {DEFAULT_CYCLE}",
            plan.key
        )));
    };
    let existing = match known_id {
        Some(id) => Some(id),
        None => subs::current(&mut conn, tenant.id)
            .await
            .map_err(db)?
            .map(|c| c.stripe_id),
    };
    let request = stripe::EnsureSubscription {
        tenant_id: tenant.id.to_string(),
        customer_id: customer.clone(),
        existing_id: existing,
        price_id,
        quantity: u32::try_from(seats).unwrap_or(1),
        plan: plan.key.clone(),
    };
    let sub = client.ensure_subscription(&request).await.map_err(|e| {
        let retryable = matches!(e, stripe::StripeError::Call(_));
        Failure::from_call("stripe", &e, retryable)
    })?;
    subs::mirror(&mut conn, tenant.id, &sub)
        .await
        .map_err(db)?
        .map_err(|message| Failure {
            message,
            retryable: false,
        })?;
    Ok(Achieved::Ok(sub.id))
}
