//! The `retention` job: deletes finished jobs and old events in batches
//! ([`crate::domain::retention`]), then queues its next run. One live run at a time (its
//! dedupe key); it is queued by every process with workers at start (to run
//! [`FIRST_RUN_AFTER`] later, so a restart loop does not prune on every start), and by itself
//! [`INTERVAL`] after each run.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::JobEnv;
use crate::domain::jobs::{self as queue, ClaimedJob, NewJob, Settle};
use crate::domain::retention::{self, Prunable};
use crate::metrics::JobOutcome;

/// The job kind.
pub const JOB: &str = "retention";

/// The delay of the run queued at start.
pub const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);

/// Time between two runs.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Rows deleted per statement.
pub const BATCH: i64 = 1000;

/// A pause between batches, so the deletes never crowd out other work.
const PAUSE: Duration = Duration::from_millis(20);

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

/// Runs one pass over every prunable table, then queues the next pass.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let now = chrono::Utc::now();
    let mut deleted = 0usize;
    for what in Prunable::ALL {
        let keep = match what {
            Prunable::FinishedJobs => env.config.job_retention,
            Prunable::ProvisioningEvents | Prunable::StripeEvents => env.config.event_retention,
            Prunable::ExpiredAuditExports => Duration::ZERO,
        };
        let before = now - chrono::Duration::from_std(keep)?;
        loop {
            let n = {
                let mut conn = env.pool.get().await?;
                retention::prune_batch(&mut conn, what, before, BATCH).await?
            };
            deleted += n;
            if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    tracing::info!(deleted, "retention pass done");
    let mut conn = env.pool.get().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            queue::settle(conn, job.id, &Settle::Done).await?;
            queue_run(conn, INTERVAL).await?;
            Ok(JobOutcome::Done)
        })
        .await?;
    Ok(outcome)
}
