//! The `audit_export` job: writes one audit log export ([`crate::domain::audit::export`]).
//! A retry starts the CSV again from scratch; after the last attempt the export is `failed`.

use diesel_async::AsyncConnection;

use super::JobEnv;
use crate::domain::audit::export::write;
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::metrics::JobOutcome;

/// Runs the export named by the job's payload.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let id: uuid::Uuid = serde_json::from_value(job.payload["export"].clone())?;
    let export = {
        let mut conn = env.pool.get().await?;
        write::start(&mut conn, id).await?
    };
    let outcome = match &export {
        // Pruned or already finished: nothing to do.
        None => None,
        Some(export) => {
            let started = std::time::Instant::now();
            let written = write::write(&env.pool, export).await;
            if let Ok(w) = &written {
                tracing::info!(
                    export = %id,
                    rows = w.rows,
                    bytes = w.bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "audit export written"
                );
            }
            Some(written.map_err(|e| format!("{e:#}")))
        }
    };
    let last = job.is_last_attempt();
    let backoff = env.config.backoff(job.attempts.unsigned_abs(), 0.5);
    let mut conn = env.pool.get().await?;
    let settled = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            match outcome {
                None => {
                    queue::settle(conn, job.id, &Settle::Done).await?;
                    Ok(JobOutcome::Done)
                }
                Some(Ok(written)) => {
                    write::finish(conn, id, Ok(written)).await?;
                    queue::settle(conn, job.id, &Settle::Done).await?;
                    Ok(JobOutcome::Done)
                }
                Some(Err(error)) if last => {
                    tracing::warn!(export = %id, %error, "audit export failed for good");
                    write::finish(conn, id, Err("the export could not be written".into())).await?;
                    queue::settle(conn, job.id, &Settle::Dead(error)).await?;
                    Ok(JobOutcome::Dead)
                }
                Some(Err(error)) => {
                    tracing::warn!(export = %id, %error, "audit export failed; retrying");
                    queue::settle(conn, job.id, &Settle::RetryAfter(backoff, error)).await?;
                    Ok(JobOutcome::Retried)
                }
            }
        })
        .await?;
    Ok(settled)
}
