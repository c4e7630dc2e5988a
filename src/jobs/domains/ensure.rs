//! The `domain_ensure` job: make sure the mail server holds a domain, and keep the MX, SPF
//! and DKIM records it says to publish (from `dnsZoneFile`) on the domain's row.
//!
//! The upstream calls run outside any transaction; the result is written, and the job
//! settled, in one transaction that first checks the lease is still this worker's. Stalwart
//! generates DKIM keys in the background after creating a domain, so an answer without a
//! DKIM record is retried (with the queue's backoff) until the last attempt, which keeps
//! what it has.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::db::schema::domains;
use crate::domain::domains::changes::EnsureJob;
use crate::domain::domains::expected;
use crate::domain::domains::{DomainRow, PublishedRecord, RecordKind};
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::jobs::JobEnv;
use crate::metrics::JobOutcome;
use crate::upstream::stalwart::StalwartError;

/// What an attempt found.
enum Found {
    /// The mail server's id and records.
    Records(String, Vec<PublishedRecord>),
    /// Nothing to do (the domain is gone, or Stalwart is not configured).
    Nothing,
}

/// Runs one attempt of an ensure job.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let Ok(payload) = serde_json::from_value::<EnsureJob>(job.payload.clone()) else {
        return crate::jobs::provisioning::settle_only(
            env,
            job,
            worker,
            Settle::Dead("malformed job payload".into()),
        )
        .await;
    };
    let row: Option<DomainRow> = {
        let mut conn = env.pool.get().await?;
        domains::table
            .find(payload.domain)
            .select(DomainRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
    };
    let found = match (&row, &env.upstreams.stalwart) {
        (Some(row), Some(client)) => ensure(client.as_ref(), &row.name).await,
        _ => Ok(Found::Nothing),
    };
    let (settle, update, outcome) = match found {
        Ok(Found::Records(id, records)) => {
            let has_dkim = records.iter().any(|r| r.kind == RecordKind::Dkim);
            if has_dkim || job.is_last_attempt() {
                (Settle::Done, Some((id, records)), JobOutcome::Done)
            } else {
                let delay = env
                    .config
                    .backoff(u32::try_from(job.attempts).unwrap_or(1), 0.5);
                (
                    Settle::RetryAfter(delay, "no DKIM key yet".into()),
                    Some((id, records)),
                    JobOutcome::Retried,
                )
            }
        }
        Ok(Found::Nothing) => (Settle::Done, None, JobOutcome::Done),
        Err(e) if matches!(e, StalwartError::Call(_)) && !job.is_last_attempt() => {
            let delay = env
                .config
                .backoff(u32::try_from(job.attempts).unwrap_or(1), 0.5);
            (
                Settle::RetryAfter(delay, format!("stalwart: {e}")),
                None,
                JobOutcome::Retried,
            )
        }
        Err(e) => (
            Settle::Dead(format!("stalwart: {e}")),
            None,
            JobOutcome::Dead,
        ),
    };
    let mut conn = env.pool.get().await?;
    let domain = payload.domain;
    let settled = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(JobOutcome::Abandoned);
            }
            if let Some((id, records)) = &update {
                diesel::update(domains::table.find(domain))
                    .set((
                        domains::stalwart_id.eq(id),
                        domains::published.eq(serde_json::to_value(records)?),
                    ))
                    .execute(conn)
                    .await?;
                // New records: check now (the recheck job picks it up). Unchanged ones wait
                // for the domain's next scheduled check, which asks the mail server again
                // while a DKIM key is missing; so a server that never gives one is asked once
                // per interval, not in a loop.
                let changed = row.as_ref().is_none_or(|r| r.published() != *records);
                if changed {
                    diesel::update(domains::table.find(domain))
                        .set(domains::next_check_at.eq(diesel::dsl::now))
                        .execute(conn)
                        .await?;
                    super::recheck::queue_run(conn, std::time::Duration::ZERO).await?;
                }
            }
            queue::settle(conn, job.id, &settle).await?;
            Ok(outcome)
        })
        .await?;
    Ok(settled)
}

async fn ensure(
    client: &dyn crate::upstream::stalwart::StalwartClient,
    name: &str,
) -> Result<Found, StalwartError> {
    let domain = client.ensure_domain(name).await?;
    let dns = client.domain_dns(&domain.id).await?;
    Ok(Found::Records(
        domain.id,
        expected::from_zone(name, &dns.records),
    ))
}
