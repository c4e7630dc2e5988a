//! The workers: `JOB_WORKERS` tasks per process. Each claims at once, with `FOR UPDATE SKIP
//! LOCKED`, up to `JOB_BATCH` due provisioning step jobs and at most one job of another kind,
//! renews their leases while it works, and settles each job (and the state the job changes)
//! in a transaction that first checks the lease is still its own. The step jobs are started
//! in the claiming transaction and settled together in one more (a group commit); the other
//! job runs beside them.
//!
//! Idle workers sleep until a `jobs` notification (LISTEN/NOTIFY through the
//! [`EventHub`]), the next job's due time, or the poll interval, whichever comes first:
//! the poll is the fallback for notifications lost while the listener reconnects.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast::error::RecvError};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::JobsConfig;
use crate::db::DbPool;
use diesel_async::AsyncConnection;

use super::provisioning::{StartedBatch, TenantLocks};
use crate::domain::jobs::{self as queue, ClaimedJob};
use crate::domain::provisioning::state::JOB_KIND as STEP_JOB;
use crate::events::{Event, EventHub};
use crate::metrics::{JobOutcome, Metrics};
use crate::upstream::Upstreams;
use tracing::Instrument;

/// What jobs run with.
#[derive(Clone)]
pub struct JobEnv {
    /// The database.
    pub pool: DbPool,
    /// The upstream clients.
    pub upstreams: Arc<Upstreams>,
    /// Queue settings.
    pub config: JobsConfig,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The domain verifier's resolver.
    pub dns: Arc<crate::upstream::dns::DnsClient>,
    /// Domain verification settings.
    pub domains: super::domains::DomainsConfig,
    /// The key that opens the one-time passwords member jobs carry.
    pub sealing: Arc<crate::domain::members::sealing::SealingKey>,
    /// The security area's bounded, cached upstream reads (shared with the schema).
    pub reads: Arc<crate::domain::security::upstream_reads::UpstreamReads>,
    /// Security settings (the MFA snapshot interval).
    pub security: crate::domain::security::config::SecurityConfig,
}

/// The worker tasks of a process.
pub struct Workers {
    tasks: JoinSet<()>,
    stop: CancellationToken,
}

impl Workers {
    /// Starts `env.config.workers` workers (none for an API-only replica); they stop when
    /// `shutdown` is cancelled (after finishing the job in hand) or when [`Workers::abort`]ed.
    pub fn start(env: JobEnv, hub: &EventHub, shutdown: &CancellationToken) -> Self {
        let stop = shutdown.child_token();
        let mut tasks = JoinSet::new();
        if env.config.workers == 0 {
            return Self { tasks, stop };
        }
        let wake = Arc::new(Notify::new());
        let mut events = hub.subscribe();
        let waker = Arc::clone(&wake);
        let stop_waker = stop.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop_waker.cancelled() => break,
                    event = events.recv() => match event {
                        // A reconnected listener may have missed notifications: look anyway.
                        Ok(Event::JobsQueued | Event::Resync) | Err(RecvError::Lagged(_)) => {
                            waker.notify_waiters();
                        }
                        Ok(_) => {}
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        });
        let process = format!("{}-{}", hostname(), std::process::id());
        for n in 0..env.config.workers {
            let worker = Worker {
                id: format!("{process}-{n}-{}", uuid::Uuid::new_v4().simple()),
                env: env.clone(),
                wake: Arc::clone(&wake),
                stop: stop.clone(),
            };
            tasks.spawn(worker.run());
        }
        Self { tasks, stop }
    }

    /// Stops taking new jobs and waits for the jobs in hand to settle.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Drops every worker at once, mid-job if need be, as a crash would: their leases are
    /// left to expire. (For crash-safety tests.)
    pub fn abort(&mut self) {
        self.stop.cancel();
        self.tasks.abort_all();
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// What one claim brought: step jobs already started, and jobs of other kinds.
struct Claimed {
    steps: StartedBatch,
    others: Vec<ClaimedJob>,
}

struct Worker {
    id: String,
    env: JobEnv,
    wake: Arc<Notify>,
    stop: CancellationToken,
}

impl Worker {
    async fn run(self) {
        tracing::debug!(worker = %self.id, "job worker started");
        while !self.stop.is_cancelled() {
            // Registered before looking, so a notification that arrives while we look is kept.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.claim().await {
                Ok(Some(claimed)) => {
                    self.work_batch(claimed).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e, "could not claim and start jobs; claiming them one by one");
                    // A batch whose start failed rolled back whole: claim plainly, so every
                    // job gets its own attempt (and a job that always fails dies by its
                    // attempts instead of blocking the queue).
                    match self.claim_plain().await {
                        Ok(jobs) if !jobs.is_empty() => {
                            futures_util::future::join_all(jobs.into_iter().map(|j| self.work(j)))
                                .await;
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(worker = %self.id, error = %e, "could not look for jobs");
                        }
                    }
                }
            }
            let sleep = self.idle_for().await;
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = &mut woken => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::debug!(worker = %self.id, "job worker stopped");
    }

    /// Claims up to a batch of due jobs and, in the same transaction, starts the step jobs
    /// among them; `None` when nothing is due.
    async fn claim(&self) -> anyhow::Result<Option<Claimed>> {
        let mut conn = self.env.pool.get().await?;
        let (worker, lease, limit) = (&self.id, self.env.config.lease, self.env.config.batch);
        let claimed = conn
            .transaction::<_, anyhow::Error, _>(async move |conn| {
                let jobs = queue::claim_batch(conn, worker, lease, limit).await?;
                if jobs.is_empty() {
                    return Ok(None);
                }
                let (steps, others): (Vec<_>, Vec<_>) =
                    jobs.into_iter().partition(|j| j.kind == STEP_JOB);
                let steps = if steps.is_empty() {
                    StartedBatch::default()
                } else {
                    super::provisioning::start_batch(conn, steps, TenantLocks::Skip).await?
                };
                Ok(Some(Claimed { steps, others }))
            })
            .await?;
        Ok(claimed)
    }

    /// Claims up to a batch of due jobs, starting none.
    async fn claim_plain(&self) -> anyhow::Result<Vec<ClaimedJob>> {
        let mut conn = self.env.pool.get().await?;
        let config = &self.env.config;
        Ok(queue::claim_batch(&mut conn, &self.id, config.lease, config.batch).await?)
    }

    /// Finishes a claimed batch: the started step jobs together (their leases renewed
    /// together), every other job on its own, all at once.
    async fn work_batch(&self, claimed: Claimed) {
        let Claimed {
            mut steps,
            mut others,
        } = claimed;
        others.append(&mut steps.deferred);
        for outcome in steps.ended {
            self.env.metrics.record_job(outcome);
        }
        // Other kinds run one after another, in claim order, as a worker always ran them;
        // every lease of the batch is renewed until the whole batch is through.
        let ids: Vec<i64> = steps
            .started
            .iter()
            .map(|s| s.job_id())
            .chain(others.iter().map(|j| j.id))
            .collect();
        let started = steps.started.len();
        let span =
            tracing::info_span!("jobs", steps = started, others = others.len(), worker = %self.id);
        let lease = self.env.config.lease;
        let renewals = async {
            let mut renew = tokio::time::interval(lease / 3);
            renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            renew.tick().await;
            loop {
                renew.tick().await;
                let renewed = async {
                    let mut conn = self.env.pool.get().await?;
                    anyhow::Ok(queue::renew_all(&mut conn, &ids, &self.id, lease).await?)
                }
                .await;
                if let Err(e) = renewed {
                    tracing::warn!(parent: &span, error = %e, "could not renew the leases");
                }
            }
        };
        let provisioning = async {
            if started == 0 {
                return;
            }
            let finish = super::provisioning::finish_batch(&self.env, steps.started, &self.id)
                .instrument(span.clone());
            match finish.await {
                Ok(outcomes) => {
                    for outcome in outcomes {
                        self.env.metrics.record_job(outcome);
                    }
                }
                Err(e) => {
                    for _ in 0..started {
                        self.env.metrics.record_job(JobOutcome::Abandoned);
                    }
                    tracing::error!(parent: &span, error = %e, "jobs failed to settle; their leases will expire and they will run again");
                }
            }
        };
        let others = async {
            for job in others {
                self.work(job).await;
            }
        };
        tokio::select! {
            _ = futures_util::future::join(provisioning, others) => {}
            () = renewals => {}
        }
    }

    /// Until the next job is due, at most the poll interval.
    async fn idle_for(&self) -> Duration {
        let poll = self.env.config.poll_interval;
        let Ok(mut conn) = self.env.pool.get().await else {
            return poll;
        };
        match queue::next_due_in(&mut conn).await {
            Ok(Some(due)) => due.clamp(Duration::from_millis(5), poll),
            _ => poll,
        }
    }

    /// Runs `job` while renewing its lease every third of the lease.
    async fn work(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts, worker = %self.id);
        let lease = self.env.config.lease;
        let run = async {
            match job.kind.as_str() {
                crate::domain::provisioning::state::JOB_KIND => {
                    super::provisioning::run(&self.env, &job, &self.id).await
                }
                crate::domain::billing::stripe_events::JOB_KIND => {
                    super::stripe::run(&self.env, &job, &self.id).await
                }
                crate::domain::billing::subscription::JOB_KIND => {
                    super::billing::run(&self.env, &job, &self.id).await
                }
                crate::domain::domains::changes::ENSURE_JOB => {
                    super::domains::ensure::run(&self.env, &job, &self.id).await
                }
                crate::domain::members::steps::JOB_KIND => {
                    super::members::run(&self.env, &job, &self.id).await
                }
                crate::domain::members::teardown::GROUP_JOB => {
                    super::members::run_group_delete(&self.env, &job, &self.id).await
                }
                super::domains::recheck::JOB => {
                    super::domains::recheck::run(&self.env, &job, &self.id).await
                }
                super::retention::JOB => super::retention::run(&self.env, &job, &self.id).await,
                super::service_probe::JOB => {
                    super::service_probe::run(&self.env, &job, &self.id).await
                }
                super::mfa_snapshot::JOB => {
                    super::mfa_snapshot::run(&self.env, &job, &self.id).await
                }
                crate::domain::audit::export::JOB_KIND => {
                    super::audit_export::run(&self.env, &job, &self.id).await
                }
                other => {
                    tracing::error!(kind = other, "unknown job kind; dead-lettering it");
                    super::provisioning::settle_only(
                        &self.env,
                        &job,
                        &self.id,
                        queue::Settle::Dead(format!("unknown job kind `{other}`")),
                    )
                    .await
                }
            }
        }
        .instrument(span.clone());
        // The renewals run beside the job, never instead of it: a renewal waiting for the
        // job row (locked by the job's own settling transaction) must not stop that
        // transaction from being polled, or both wait until the statement timeout.
        let renewals = async {
            let mut renew = tokio::time::interval(lease / 3);
            renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            renew.tick().await;
            loop {
                renew.tick().await;
                let renewed = async {
                    let mut conn = self.env.pool.get().await?;
                    anyhow::Ok(queue::renew(&mut conn, job.id, &self.id, lease).await?)
                }
                .await;
                match renewed {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(parent: &span, job = job.id, "lost the lease; another worker may run this job")
                    }
                    Err(e) => {
                        tracing::warn!(parent: &span, job = job.id, error = %e, "could not renew the lease")
                    }
                }
            }
        };
        tokio::select! {
            outcome = run => match outcome {
                Ok(outcome) => self.env.metrics.record_job(outcome),
                Err(e) => {
                    self.env.metrics.record_job(JobOutcome::Abandoned);
                    tracing::error!(parent: &span, job = job.id, error = %e, "job failed to settle; its lease will expire and it will run again");
                }
            },
            () = renewals => {}
        }
    }
}
