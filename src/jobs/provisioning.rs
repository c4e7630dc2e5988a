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

/// Runs one attempt of a step job claimed on its own (the batch path's two transactions for
/// a batch of one); `Ok` with how the job ended.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let mut conn = env.pool.get().await?;
    let one = job.clone();
    let batch = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, one.id, worker).await? {
                return Ok(None);
            }
            Ok(Some(start_batch(conn, vec![one], TenantLocks::Wait).await?))
        })
        .await?;
    drop(conn);
    let Some(batch) = batch else {
        return Ok(JobOutcome::Abandoned);
    };
    if let Some(outcome) = batch.ended.first() {
        return Ok(*outcome);
    }
    Ok(finish_batch(env, batch.started, worker)
        .await?
        .pop()
        .unwrap_or(JobOutcome::Abandoned))
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

// ------------------------------------------------------------------ batches
//
// The workers claim several due jobs at once. Their step jobs are started in the claiming
// transaction itself and settled together in one more (a group commit): the statements per
// batch do not grow with the batch, so the queue's throughput is no longer one round of a
// dozen statements per job. Every rule of the one-job path above holds per job: a job whose
// lease is no longer its worker's is left alone, a missing tenant dead-letters the job, a
// terminated tenant's step is skipped, and each outcome is written once.

/// A step job started in the claiming transaction, waiting for its upstream call.
pub struct Started {
    job: ClaimedJob,
    tenant_id: crate::domain::ids::TenantId,
    step: Step,
    tenant: LockedTenant,
    known_id: Option<String>,
}

impl Started {
    /// The job's id.
    pub fn job_id(&self) -> i64 {
        self.job.id
    }
}

/// What starting a batch did: the jobs started, the outcomes of the ones that ended at once
/// (dead-lettered: malformed, or their tenant is gone), and the ones left to start on their
/// own.
#[derive(Default)]
pub struct StartedBatch {
    /// Started, to be performed and settled.
    pub started: Vec<Started>,
    /// Settled already.
    pub ended: Vec<JobOutcome>,
    /// Claimed but not started: their tenant's row was held by another transaction (only
    /// when starting without waiting). Run them one by one ([`run`]).
    pub deferred: Vec<ClaimedJob>,
}

/// How [`start_batch`] takes the tenants' locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantLocks {
    /// Waits for each lock; a tenant that is not there dead-letters its jobs.
    Wait,
    /// Takes only the locks nobody holds; the other jobs are deferred. For the claiming
    /// transaction, which holds the new versions of every claimed job row and so must never
    /// wait (a transaction that waits while holding them would stall everyone who queues a
    /// job with one of their dedupe keys).
    Skip,
}

/// Starts the claimed step jobs `jobs` inside a transaction that holds their leases (the
/// claiming one, or one that [`queue::hold`]s them): their tenants locked, each step
/// `running`, one event each.
pub async fn start_batch(
    conn: &mut diesel_async::AsyncPgConnection,
    jobs: Vec<ClaimedJob>,
    locks: TenantLocks,
) -> anyhow::Result<StartedBatch> {
    let mut batch = StartedBatch::default();
    let mut dead: Vec<(i64, Settle)> = Vec::new();
    let mut wanted = Vec::new();
    for job in jobs {
        match serde_json::from_value::<StepJob>(job.payload.clone()) {
            Ok(p) => wanted.push((job, p.tenant, p.step)),
            Err(_) => dead.push((job.id, Settle::Dead("malformed job payload".into()))),
        }
    }
    let mut tenant_ids: Vec<_> = wanted.iter().map(|(_, t, _)| *t).collect();
    tenant_ids.sort_unstable_by_key(|t| t.uuid());
    tenant_ids.dedup();
    let tenants = match (tenant_ids.is_empty(), locks) {
        (true, _) => Vec::new(),
        (false, TenantLocks::Wait) => state::lock_tenants(conn, &tenant_ids).await?,
        (false, TenantLocks::Skip) => state::lock_tenants_unheld(conn, &tenant_ids).await?,
    };
    let mut go = Vec::new();
    for (job, tenant_id, step) in wanted {
        match (tenants.iter().find(|t| t.id == tenant_id), locks) {
            (Some(tenant), _) => go.push((job, tenant_id, step, tenant.clone())),
            (None, TenantLocks::Wait) => {
                dead.push((job.id, Settle::Dead("the tenant no longer exists".into())));
            }
            (None, TenantLocks::Skip) => batch.deferred.push(job),
        }
    }
    let steps: Vec<_> = go
        .iter()
        .map(|(job, t, s, _)| ((*t, *s), job.attempts))
        .collect();
    let known = state::start_steps(conn, &steps).await?;
    let events: Vec<_> = go
        .iter()
        .map(|(job, t, s, _)| {
            let message = steps::started(job.attempts, job.max_attempts);
            (*t, NewEvent::step(*s, StepStatus::Running, message))
        })
        .collect();
    state::append_events_of(conn, &events).await?;
    queue::settle_all(conn, &dead).await?;
    batch.ended = dead.iter().map(|_| JobOutcome::Dead).collect();
    batch.started = go
        .into_iter()
        .map(|(job, tenant_id, step, tenant)| {
            let known_id = known
                .iter()
                .find(|(k, _)| *k == (tenant_id, step))
                .and_then(|(_, id)| id.clone());
            Started {
                job,
                tenant_id,
                step,
                tenant,
                known_id,
            }
        })
        .collect();
    Ok(batch)
}

/// Performs the started jobs' upstream calls (concurrently) and settles them all in one
/// transaction; the outcome of each.
pub async fn finish_batch(
    env: &JobEnv,
    started: Vec<Started>,
    worker: &str,
) -> anyhow::Result<Vec<JobOutcome>> {
    if started.is_empty() {
        return Ok(Vec::new());
    }
    let results = futures_util::future::join_all(started.iter().map(|s| async move {
        if s.job.attempts > s.job.max_attempts {
            Err(Failure {
                message: format!("no attempt finished in {} tries", s.job.max_attempts),
                retryable: false,
            })
        } else if s.tenant.status == TenantStatus::Terminated {
            Ok(Achieved::Skipped("the tenant is terminated".into()))
        } else {
            perform(env, s.step, &s.tenant, s.known_id.clone()).await
        }
    }))
    .await;
    let config = &env.config;
    let mut conn = env.pool.get().await?;
    let ids: Vec<i64> = started.iter().map(|s| s.job.id).collect();
    let started = &started;
    let results = &results;
    let outcomes = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            let held = queue::hold_all(conn, &ids, worker).await?;
            let mut tenant_ids: Vec<_> = started
                .iter()
                .filter(|s| held.contains(&s.job.id))
                .map(|s| s.tenant_id)
                .collect();
            tenant_ids.sort_unstable_by_key(|t| t.uuid());
            tenant_ids.dedup();
            let tenants = if tenant_ids.is_empty() {
                Vec::new()
            } else {
                state::lock_tenants(conn, &tenant_ids).await?
            };
            let mut outcomes = Vec::with_capacity(started.len());
            let mut updates = Vec::new();
            let mut events = Vec::new();
            let mut settles = Vec::new();
            let mut handles = Vec::new();
            let mut customers = Vec::new();
            for (s, result) in started.iter().zip(results) {
                let job = &s.job;
                if !held.contains(&job.id) {
                    outcomes.push(JobOutcome::Abandoned);
                    continue;
                }
                let Some(tenant) = tenants.iter().find(|t| t.id == s.tenant_id) else {
                    settles.push((job.id, Settle::Dead("the tenant no longer exists".into())));
                    outcomes.push(JobOutcome::Dead);
                    continue;
                };
                let attempt = job.attempts;
                let (update, event, settle, outcome) =
                    outcome_of(config, job, s.step, attempt, result);
                if let Some(id) = update.upstream_id {
                    handles.push((s.tenant_id, s.step, id));
                }
                if s.step == Step::StripeCustomer && update.status == StepStatus::Ok {
                    customers.push((tenant, job));
                }
                updates.push(((s.tenant_id, s.step), update));
                events.push((s.tenant_id, event));
                settles.push((job.id, settle));
                outcomes.push(outcome);
            }
            state::set_steps(conn, &updates).await?;
            for (tenant, step, id) in handles {
                state::store_handle(conn, tenant, step, id).await?;
            }
            state::append_events_of(conn, &events).await?;
            for (tenant, job) in customers {
                if subs::stripe_price(conn, &tenant.plan, DEFAULT_CURRENCY, DEFAULT_CYCLE)
                    .await?
                    .is_some()
                {
                    // The subscription needs the customer: it follows in the same run
                    // (tenants whose plan has no Stripe price have no subscription step).
                    state::queue_steps(
                        conn,
                        tenant.id,
                        &[Step::StripeSubscription],
                        u32::try_from(job.max_attempts).unwrap_or(1),
                        "queued after the Stripe customer",
                    )
                    .await?;
                }
            }
            queue::settle_all(conn, &settles).await?;
            state::end_runs_if_settled(conn, &tenants).await?;
            Ok(outcomes)
        })
        .await?;
    Ok(outcomes)
}

/// How one attempt's result is written: the step, its event, the job, the metric (the
/// rules of [`steps::settle`], shared with the member steps).
fn outcome_of<'a>(
    config: &super::JobsConfig,
    job: &ClaimedJob,
    step: Step,
    attempt: i32,
    result: &'a Result<Achieved, Failure>,
) -> (StepUpdate<'a>, NewEvent, Settle, JobOutcome) {
    let attempted = match result {
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
        config.backoff(u32::try_from(attempt).unwrap_or(1), jitter(job))
    });
    let update = StepUpdate {
        status,
        attempts: attempt,
        last_error,
        upstream_id: match result {
            Ok(Achieved::Ok(id)) => Some(id),
            _ => None,
        },
    };
    (update, event, settle, outcome)
}
