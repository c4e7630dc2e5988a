//! The `domain_recheck` job: the continuous DNS verification. One live job at a time (its
//! dedupe key); each run claims due domains in batches (`DOMAIN_RECHECK_BATCH`; see
//! [`verify::claim_due`]: each domain goes to one replica only), checks a batch at once
//! (bounded by `DNS_MAX_INFLIGHT`), stores it in one statement, and goes on until nothing is
//! due. It then queues its next run for when the next domain falls due, at most a minute
//! ahead (a domain added meanwhile is picked up within a minute). A domain whose records the
//! mail server has not fully given yet (no DKIM key) gets a new ensure job from each check.

use std::time::Duration;

use diesel::dsl::min;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::domains as domains_table;
use crate::domain::domains::{self as domains, RecordKind, changes, verify};
use crate::domain::jobs::{self as queue, ClaimedJob, NewJob, Settle};
use crate::jobs::JobEnv;
use crate::metrics::JobOutcome;

/// The job kind.
pub const JOB: &str = "domain_recheck";

/// How long a claimed domain is kept from other replicas (a check that dies is retried
/// after this).
const CLAIM_LEASE: Duration = Duration::from_secs(600);

/// The longest a run is queued ahead.
const MAX_AHEAD: Duration = Duration::from_secs(60);

/// Queues a run after `delay` unless one is already queued or running.
pub async fn queue_run(conn: &mut AsyncPgConnection, delay: Duration) -> QueryResult<bool> {
    let job = NewJob {
        kind: JOB,
        payload: serde_json::json!({}),
        dedupe_key: Some(JOB.into()),
        max_attempts: 3,
    };
    queue::enqueue_after(conn, &job, delay).await
}

/// Queues a run now if any domain exists (at start, for domains no job knows of yet).
pub async fn queue_if_domains(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    let any: bool = diesel::select(diesel::dsl::exists(
        domains_table::table.select(domains_table::id),
    ))
    .get_result(conn)
    .await?;
    if any {
        queue_run(conn, Duration::ZERO).await
    } else {
        Ok(false)
    }
}

/// Runs one recheck: every due domain, then the next run.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let config = &env.domains;
    loop {
        let (rows, overrides) = {
            let mut conn = env.pool.get().await?;
            let rows = verify::claim_due(&mut conn, config.batch, CLAIM_LEASE).await?;
            let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
            let overrides = if ids.is_empty() {
                Vec::new()
            } else {
                domains::overrides_of(&mut conn, &ids).await?
            };
            (rows, overrides)
        };
        if rows.is_empty() {
            break;
        }
        let checked = futures_util::future::join_all(rows.iter().map(|row| {
            let own: Vec<_> = overrides
                .iter()
                .filter(|o| o.domain_id == row.id)
                .cloned()
                .collect();
            async move { verify::check(&env.dns, row, &own, config.failing_after).await }
        }))
        .await;
        // A domain the mail server has not fully described yet (not created, or its DKIM
        // keys were still being generated when its ensure job gave up) is asked again.
        let incomplete: Vec<_> = rows
            .iter()
            .filter(|row| {
                row.stalwart_id.is_none()
                    || !row.published().iter().any(|r| r.kind == RecordKind::Dkim)
            })
            .map(|row| row.id)
            .collect();
        let mut conn = env.pool.get().await?;
        let interval = config.recheck_interval;
        let max_attempts = env.config.max_attempts;
        conn.transaction::<_, anyhow::Error, _>(async move |conn| {
            verify::save(conn, &checked, interval).await?;
            if env.upstreams.stalwart.is_some() {
                changes::queue_ensure_all(conn, &incomplete, max_attempts).await?;
            }
            Ok(())
        })
        .await?;
    }
    let mut conn = env.pool.get().await?;
    let settled = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            queue::settle(conn, job.id, &Settle::Done).await?;
            let next: Option<chrono::DateTime<chrono::Utc>> = domains_table::table
                .select(min(domains_table::next_check_at))
                .first(conn)
                .await?;
            if let Some(next) = next {
                let ahead = (next - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_AHEAD);
                queue_run(conn, ahead).await?;
            }
            Ok(JobOutcome::Done)
        })
        .await?;
    Ok(settled)
}
