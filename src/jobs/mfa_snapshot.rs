//! The `mfa_snapshot` job: refreshes the stored MFA enrollment snapshot
//! ([`crate::domain::security::mfa_snapshot`]) of every active member with an Authentik
//! account whose snapshot is missing or older than `MFA_SNAPSHOT_INTERVAL_SECS`, in batches
//! of [`BATCH`] users, through the same bounded, cached [`UpstreamReads`] path as
//! `Tenant.mfaStatus` (at most `SECURITY_UPSTREAM_CONCURRENCY` calls in flight per process).
//!
//! One live run at a time across replicas (its dedupe key), queued at start by every
//! process with workers (to run [`FIRST_RUN_AFTER`] later) and by itself one interval after
//! each run. A user Authentik fails to answer for keeps their previous snapshot (nothing is
//! overwritten); the run still settles, logs one warning for all such users, and queues the
//! next run [`RETRY_AFTER`] later (or the interval, if shorter). A batch in which every read
//! failed ends the pass: Authentik is down, and asking it for the rest would only add calls.
//! Not queued, and a queued run does nothing, while Authentik is not configured or the
//! interval is zero.
//!
//! [`UpstreamReads`]: crate::domain::security::upstream_reads::UpstreamReads

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::JobEnv;
use crate::domain::ids::UserId;
use crate::domain::jobs::{self as queue, ClaimedJob, NewJob, Settle};
use crate::domain::security::mfa_snapshot::{self, StaleUser};
use crate::metrics::JobOutcome;

/// The job kind.
pub const JOB: &str = "mfa_snapshot";

/// The delay of the run queued at start.
pub const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);

/// The delay of the next run after a run in which some reads failed.
pub const RETRY_AFTER: Duration = Duration::from_secs(300);

/// Users read per batch (and stored per statement).
pub const BATCH: i64 = 200;

/// Queues a run after `delay` unless one is queued or running.
pub async fn queue_run(conn: &mut AsyncPgConnection, delay: Duration) -> diesel::QueryResult<bool> {
    let job = NewJob {
        kind: JOB,
        payload: serde_json::json!({}),
        dedupe_key: Some(JOB.into()),
        max_attempts: 3,
    };
    queue::enqueue_after(conn, &job, delay).await
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Pass {
    stored: usize,
    failed: usize,
    last_error: Option<String>,
}

/// Refreshes every stale snapshot, batch by batch.
async fn refresh(env: &JobEnv, interval: Duration) -> anyhow::Result<Pass> {
    let Some(authentik) = env.upstreams.authentik.clone() else {
        return Ok(Pass::default());
    };
    let mut pass = Pass::default();
    let mut after: Option<UserId> = None;
    loop {
        let batch: Vec<StaleUser> = {
            let mut conn = env.pool.get().await?;
            mfa_snapshot::stale_users(&mut conn, interval, after, BATCH).await?
        };
        let Some(last) = batch.last() else { break };
        after = Some(last.user_id);
        let reads = batch.iter().map(|user| {
            let authentik = &authentik;
            let pk = user.authentik_user_pk;
            env.reads.authenticators(pk, move || async move {
                authentik.authenticators_by_type(pk).await
            })
        });
        let answers = futures_util::future::join_all(reads).await;
        let mut found = Vec::with_capacity(batch.len());
        for (user, answer) in batch.iter().zip(answers) {
            match answer {
                Ok(counts) => found.push((user.user_id, counts.iter().any(|c| c.count > 0))),
                Err(e) => {
                    pass.failed += 1;
                    pass.last_error = Some(e.to_string());
                }
            }
        }
        if !found.is_empty() {
            let mut conn = env.pool.get().await?;
            pass.stored += mfa_snapshot::store(&mut conn, &found).await?;
        }
        if found.is_empty() || batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(pass)
}

/// Runs one pass, then queues the next.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let interval = env.security.mfa_snapshot_interval;
    let enabled = !interval.is_zero() && env.upstreams.authentik.is_some();
    let pass = if enabled {
        refresh(env, interval).await?
    } else {
        Pass::default()
    };
    if pass.failed > 0 {
        tracing::warn!(
            stored = pass.stored,
            failed = pass.failed,
            error = pass.last_error.as_deref().unwrap_or(""),
            retry_in_secs = RETRY_AFTER.min(interval).as_secs(),
            "MFA snapshot: Authentik did not answer for some users; their previous snapshot is kept"
        );
    } else {
        tracing::info!(stored = pass.stored, "MFA snapshot refreshed");
    }
    let next = (pass.failed > 0).then(|| RETRY_AFTER.min(interval));
    let mut conn = env.pool.get().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            queue::settle(conn, job.id, &Settle::Done).await?;
            if enabled {
                queue_run(conn, next.unwrap_or(interval)).await?;
            }
            Ok(JobOutcome::Done)
        })
        .await?;
    Ok(outcome)
}
