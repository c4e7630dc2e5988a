//! The workers: `JOB_WORKERS` tasks per process. Each claims one due job at a time with
//! `FOR UPDATE SKIP LOCKED`, renews its lease while it works, and settles the job (and the
//! state the job changes) in one transaction that first checks the lease is still its own.
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
use crate::domain::jobs::{self as queue, ClaimedJob};
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
                Ok(Some(job)) => {
                    self.work(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(worker = %self.id, error = %e, "could not look for jobs"),
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

    async fn claim(&self) -> anyhow::Result<Option<ClaimedJob>> {
        let mut conn = self.env.pool.get().await?;
        Ok(queue::claim(&mut conn, &self.id, self.env.config.lease).await?)
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
