//! The job that applies one stored Stripe webhook event (`domain::billing::stripe_events`).
//!
//! Applying is idempotent (an event is applied once, then only its status is read), so a job
//! that runs again after a lost lease changes nothing. A database error retries with backoff;
//! a payload the job cannot read is dead-lettered.

use diesel_async::AsyncConnection;

use super::JobEnv;
use crate::domain::billing::stripe_events;
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::metrics::JobOutcome;

/// Runs one attempt; `Ok` with how the job ended.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let Some(event) = job.payload.get("event").and_then(|e| e.as_str()) else {
        let how = Settle::Dead("malformed job payload".into());
        return settle(env, job, worker, how, JobOutcome::Dead).await;
    };
    match stripe_events::apply(&env.pool, event).await {
        Ok(status) => {
            tracing::info!(event, status = %status, "stripe event settled");
            settle(env, job, worker, Settle::Done, JobOutcome::Done).await
        }
        Err(error) if !job.is_last_attempt() => {
            tracing::warn!(event, error = %error, "stripe event not applied; will retry");
            let delay = env
                .config
                .backoff(u32::try_from(job.attempts).unwrap_or(1), 0.5);
            let how = Settle::RetryAfter(delay, error.to_string());
            settle(env, job, worker, how, JobOutcome::Retried).await
        }
        Err(error) => {
            tracing::error!(event, error = %error, "stripe event not applied after the last attempt");
            let how = Settle::Dead(error.to_string());
            settle(env, job, worker, how, JobOutcome::Dead).await
        }
    }
}

async fn settle(
    env: &JobEnv,
    job: &ClaimedJob,
    worker: &str,
    how: Settle,
    outcome: JobOutcome,
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
        outcome
    } else {
        JobOutcome::Abandoned
    })
}
