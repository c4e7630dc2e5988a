//! The `service_probe` job: one round of liveness probes — PostgreSQL (`SELECT 1`) and every
//! enabled upstream (its adapter's `probe`, the cheapest authenticated call, sent once) —
//! concurrently, each bounded by `SERVICE_PROBE_TIMEOUT_MS`; the results are recorded
//! ([`crate::domain::services`]) and the next round is queued `SERVICE_PROBE_INTERVAL`
//! later (the first round one interval after start). The dedupe key keeps one live round
//! across all replicas, so however many run, the services are probed once per interval.
//! Disabled upstreams are not probed.

use std::future::Future;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::JobEnv;
use crate::db::DbPool;
use crate::domain::jobs::{self as queue, ClaimedJob, NewJob, Settle};
use crate::domain::services::{self, Probe, Service};
use crate::metrics::JobOutcome;
use crate::upstream::Upstreams;

/// The job kind.
pub const JOB: &str = "service_probe";

/// Queues a round after `delay` unless one is queued or running.
pub async fn queue_run(conn: &mut AsyncPgConnection, delay: Duration) -> diesel::QueryResult<bool> {
    let job = NewJob {
        kind: JOB,
        payload: serde_json::json!({}),
        dedupe_key: Some(JOB.into()),
        max_attempts: 3,
    };
    queue::enqueue_after(conn, &job, delay).await
}

/// Times `call`, bounded by `timeout`.
async fn timed<E: std::fmt::Display>(
    service: Service,
    timeout: Duration,
    call: impl Future<Output = Result<(), E>>,
) -> Probe {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, call).await;
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
    };
    Probe {
        service,
        up: error.is_none(),
        latency_ms,
        error,
    }
}

/// Probes PostgreSQL and every enabled upstream once, concurrently.
pub async fn probe_all(pool: &DbPool, upstreams: &Upstreams, timeout: Duration) -> Vec<Probe> {
    let postgres = timed(Service::Postgresql, timeout, async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let authentik = async {
        match &upstreams.authentik {
            Some(c) => Some(timed(Service::Authentik, timeout, c.probe()).await),
            None => None,
        }
    };
    let stalwart = async {
        match &upstreams.stalwart {
            Some(c) => Some(timed(Service::Stalwart, timeout, c.probe()).await),
            None => None,
        }
    };
    let ocis = async {
        match &upstreams.ocis {
            Some(c) => Some(timed(Service::Ocis, timeout, c.probe()).await),
            None => None,
        }
    };
    let stripe = async {
        match &upstreams.stripe {
            Some(c) => Some(timed(Service::Stripe, timeout, c.probe()).await),
            None => None,
        }
    };
    let (pg, a, s, o, st) = tokio::join!(postgres, authentik, stalwart, ocis, stripe);
    std::iter::once(pg)
        .chain([a, s, o, st].into_iter().flatten())
        .collect()
}

/// Runs one round, records it and queues the next.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let probes = probe_all(&env.pool, &env.upstreams, env.config.service_probe_timeout).await;
    for p in probes.iter().filter(|p| !p.up) {
        tracing::warn!(service = %p.service, error = p.error.as_deref().unwrap_or(""), "service probe failed");
    }
    let interval = env.config.service_probe_interval;
    let mut conn = env.pool.get().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            services::record(conn, &probes).await?;
            queue::settle(conn, job.id, &Settle::Done).await?;
            queue_run(conn, interval).await?;
            Ok(JobOutcome::Done)
        })
        .await?;
    Ok(outcome)
}
