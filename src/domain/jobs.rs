//! The job table's SQL: enqueue (inside the caller's transaction), claim with
//! `FOR UPDATE SKIP LOCKED`, renew a lease, and settle (done, retry later, dead).
//!
//! Every settle is conditional on the caller still holding the lease (`locked_by` is its
//! worker id and the job is running): a worker whose lease expired and was taken over
//! learns it here and drops its result, so a job's outcome is recorded exactly once.

use std::sync::LazyLock;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::cached;
use crate::events::{self, Event};

crate::text_enum! {
    /// Where a job stands.
    pub enum JobStatus {
        /// Waiting for its `run_at`.
        Queued = "queued",
        /// A worker holds its lease.
        Running = "running",
        /// Finished.
        Done = "done",
        /// Failed for good (dead letter).
        Dead = "dead",
    }
}

/// A statement's text with `{queued}`, `{running}`, `{done}` and `{dead}` replaced by the
/// quoted status spellings. Statuses stay literals in the text (not parameters) where a
/// partial index's predicate must match them (`jobs_due_idx`, `jobs_lease_idx`, the dedupe
/// index of `ON CONFLICT`).
pub(crate) fn with_statuses(template: &str) -> String {
    JobStatus::ALL
        .iter()
        .fold(template.to_owned(), |sql, status| {
            sql.replace(&format!("{{{status}}}"), &format!("'{status}'"))
        })
}

/// The kind claimed in batches by [`claim_batch`]: provisioning steps.
pub const BATCHED_KIND: &str = crate::domain::provisioning::state::JOB_KIND;

static ENQUEUE_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts)
         SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::int[])
         ON CONFLICT (dedupe_key) WHERE status IN ({queued}, {running}) DO NOTHING",
    )
});

static ENQUEUE_AFTER_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts, run_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::bigint / 1000.0))
         ON CONFLICT (dedupe_key) WHERE status IN ({queued}, {running}) DO NOTHING",
    )
});

static CLAIM_BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    // The kind is a literal, not a parameter: each part must match the predicate of its
    // partial index (`jobs_claim_steps_idx`, `jobs_claim_others_idx`) in every plan,
    // generic ones included.
    with_statuses(
        "UPDATE jobs j
            SET status = {running}, attempts = j.attempts + 1, locked_by = $1,
                locked_until = now() + make_interval(secs => $2::bigint / 1000.0),
                updated_at = now()
          WHERE j.id = ANY(ARRAY(
                SELECT id FROM jobs
                 WHERE status IN ({queued}, {running}) AND kind = {batched}
                   AND ((status = {queued} AND run_at <= now())
                        OR (status = {running} AND locked_until < now()))
                 ORDER BY run_at, id
                 LIMIT $3
                   FOR UPDATE SKIP LOCKED) || ARRAY(
                SELECT id FROM jobs
                 WHERE status IN ({queued}, {running}) AND kind <> {batched}
                   AND ((status = {queued} AND run_at <= now())
                        OR (status = {running} AND locked_until < now()))
                 ORDER BY run_at, id
                 LIMIT 1
                   FOR UPDATE SKIP LOCKED))
         RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts",
    )
    .replace("{batched}", &format!("'{BATCHED_KIND}'"))
});

static RENEW_ALL_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3::bigint / 1000.0)
          WHERE id = ANY($1) AND locked_by = $2 AND status = {running}",
    )
});

static HOLD_ALL_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT id FROM jobs WHERE id = ANY($1) AND locked_by = $2 AND status = {running}
          ORDER BY id FOR UPDATE",
    )
});

static SETTLE_ALL_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE jobs j
            SET status = s.status, locked_by = NULL, locked_until = NULL, last_error = s.error,
                run_at = CASE WHEN s.status = {queued}
                              THEN now() + make_interval(secs => s.delay / 1000.0)
                              ELSE j.run_at END,
                updated_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[])
                AS s(id, status, delay, error)
          WHERE j.id = s.id",
    )
});

static RENEW_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3::bigint / 1000.0)
          WHERE id = $1 AND locked_by = $2 AND status = {running}",
    )
});

static HOLD_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT id FROM jobs WHERE id = $1 AND locked_by = $2 AND status = {running} FOR UPDATE",
    )
});

static SETTLE_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE jobs
            SET status = $2, locked_by = NULL, locked_until = NULL, last_error = $4,
                run_at = CASE WHEN $2 = {queued}
                              THEN now() + make_interval(secs => $3::bigint / 1000.0)
                              ELSE run_at END,
                updated_at = now()
          WHERE id = $1",
    )
});

static NEXT_DUE_SQL: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT (extract(epoch FROM min(CASE WHEN status = {queued} THEN run_at
                                               ELSE locked_until END) - now()) * 1000)::bigint AS ms
           FROM jobs WHERE status IN ({queued}, {running})",
    )
});

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What to do (the worker dispatches on it).
    pub kind: &'static str,
    /// With what.
    pub payload: serde_json::Value,
    /// At most one live job per key; `None` for no deduplication.
    pub dedupe_key: Option<String>,
    /// Attempts before the job is dead-lettered.
    pub max_attempts: u32,
}

/// A job a worker holds.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    /// `jobs.id`.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// What to do.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// With what.
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    /// This attempt's number (1 for the first).
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The last attempt allowed.
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
}

impl ClaimedJob {
    /// Whether this is the last attempt allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Queues `jobs` and wakes the workers when the caller's transaction commits (two
/// statements, however many jobs). A job whose key already has a live job is skipped;
/// returns how many were queued.
pub async fn enqueue(conn: &mut AsyncPgConnection, jobs: &[NewJob]) -> diesel::QueryResult<usize> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind).collect();
    let payloads: Vec<&serde_json::Value> = jobs.iter().map(|j| &j.payload).collect();
    let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.dedupe_key.as_deref()).collect();
    let attempts: Vec<i32> = jobs
        .iter()
        .map(|j| i32::try_from(j.max_attempts).unwrap_or(i32::MAX))
        .collect();
    let inserted = cached(
        diesel::sql_query(ENQUEUE_SQL.as_str())
            .bind::<Array<Text>, _>(kinds)
            .bind::<Array<Jsonb>, _>(payloads)
            .bind::<Array<Nullable<Text>>, _>(keys)
            .bind::<Array<Integer>, _>(attempts),
    )
    .execute(conn)
    .await?;
    if inserted > 0 {
        events::notify(conn, &Event::JobsQueued).await?;
    }
    Ok(inserted)
}

/// Queues one job to run after `delay` (and wakes the workers on commit); skipped when its
/// key already has a live job. Returns whether it was queued.
pub async fn enqueue_after(
    conn: &mut AsyncPgConnection,
    job: &NewJob,
    delay: Duration,
) -> diesel::QueryResult<bool> {
    let inserted = cached(
        diesel::sql_query(ENQUEUE_AFTER_SQL.as_str())
            .bind::<Text, _>(job.kind)
            .bind::<Jsonb, _>(&job.payload)
            .bind::<Nullable<Text>, _>(job.dedupe_key.as_deref())
            .bind::<Integer, _>(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
            .bind::<BigInt, _>(millis(delay)),
    )
    .execute(conn)
    .await?;
    if inserted > 0 {
        events::notify(conn, &Event::JobsQueued).await?;
    }
    Ok(inserted > 0)
}

/// Claims at once, oldest first — queued and due, or running with an expired lease — for
/// `worker` for `lease`, counting each attempt: up to `limit` due jobs of
/// [`BATCHED_KIND`] (provisioning steps, which run as a batch) and at most one of any other
/// kind: a slow job of another kind never holds a batch's worth of jobs behind it. Each part
/// reads its partial index in order and stops, so a claim costs the same with ten or ten
/// thousand jobs queued.
pub async fn claim_batch(
    conn: &mut AsyncPgConnection,
    worker: &str,
    lease: Duration,
    limit: usize,
) -> diesel::QueryResult<Vec<ClaimedJob>> {
    let mut rows: Vec<ClaimedJob> = cached(
        diesel::sql_query(CLAIM_BATCH_SQL.as_str())
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(millis(lease))
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX)),
    )
    .load(conn)
    .await?;
    rows.sort_by_key(|j| j.id);
    Ok(rows)
}

/// The text of [`claim_batch`]'s statement (parameters: worker, lease in ms, limit), for
/// tests that check its plan.
pub fn claim_batch_statement() -> &'static str {
    CLAIM_BATCH_SQL.as_str()
}

/// Extends `worker`'s leases on jobs `ids`; how many were still its own.
pub async fn renew_all(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    worker: &str,
    lease: Duration,
) -> diesel::QueryResult<usize> {
    cached(
        diesel::sql_query(RENEW_ALL_SQL.as_str())
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(millis(lease)),
    )
    .execute(conn)
    .await
}

/// Locks those of jobs `ids` that `worker` still holds, for settling (inside a
/// transaction); returns their ids.
pub async fn hold_all(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    worker: &str,
) -> diesel::QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let rows: Vec<Held> = cached(
        diesel::sql_query(HOLD_ALL_SQL.as_str())
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Text, _>(worker),
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Settles jobs the caller holds (see [`hold_all`]), each its own way, in one statement.
pub async fn settle_all(
    conn: &mut AsyncPgConnection,
    settles: &[(i64, Settle)],
) -> diesel::QueryResult<()> {
    if settles.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(settles.len());
    let mut statuses = Vec::with_capacity(settles.len());
    let mut delays = Vec::with_capacity(settles.len());
    let mut errors: Vec<Option<&str>> = Vec::with_capacity(settles.len());
    for (id, how) in settles {
        let (status, delay, error) = settle_parts(how);
        ids.push(*id);
        statuses.push(status);
        delays.push(millis(delay));
        errors.push(error);
    }
    cached(
        diesel::sql_query(SETTLE_ALL_SQL.as_str())
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(statuses)
            .bind::<Array<BigInt>, _>(delays)
            .bind::<Array<Nullable<Text>>, _>(errors),
    )
    .execute(conn)
    .await?;
    Ok(())
}

fn settle_parts(how: &Settle) -> (JobStatus, Duration, Option<&str>) {
    match how {
        Settle::Done => (JobStatus::Done, Duration::ZERO, None),
        Settle::RetryAfter(delay, error) => (JobStatus::Queued, *delay, Some(error.as_str())),
        Settle::Dead(error) => (JobStatus::Dead, Duration::ZERO, Some(error.as_str())),
    }
}

/// Extends `worker`'s lease on job `id`; `false` when the lease is no longer its own.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    id: i64,
    worker: &str,
    lease: Duration,
) -> diesel::QueryResult<bool> {
    let n = cached(
        diesel::sql_query(RENEW_SQL.as_str())
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(worker)
            .bind::<BigInt, _>(millis(lease)),
    )
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Locks job `id` for settling if `worker` still holds it (use inside a transaction).
pub async fn hold(
    conn: &mut AsyncPgConnection,
    id: i64,
    worker: &str,
) -> diesel::QueryResult<bool> {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = BigInt)]
        #[expect(dead_code, reason = "only the row's presence matters")]
        id: i64,
    }
    let rows: Vec<One> = cached(
        diesel::sql_query(HOLD_SQL.as_str())
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(worker),
    )
    .load(conn)
    .await?;
    Ok(!rows.is_empty())
}

/// How a held job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// Done.
    Done,
    /// Failed; try again after this delay.
    RetryAfter(Duration, String),
    /// Failed for good (dead letter).
    Dead(String),
}

/// Settles a job the caller [`hold`]s, in the same transaction.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    id: i64,
    how: &Settle,
) -> diesel::QueryResult<()> {
    let (status, delay, error) = settle_parts(how);
    cached(
        diesel::sql_query(SETTLE_SQL.as_str())
            .bind::<BigInt, _>(id)
            .bind::<Text, _>(status)
            .bind::<BigInt, _>(millis(delay))
            .bind::<Nullable<Text>, _>(error),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When the next job falls due — a queued job's `run_at`, or a running job's lease end —
/// if there is one (an idle worker sleeps until then, at most its poll interval).
pub async fn next_due_in(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Option<Duration>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Nullable<BigInt>)]
        ms: Option<i64>,
    }
    let due: Due = cached(diesel::sql_query(NEXT_DUE_SQL.as_str()))
        .get_result(conn)
        .await?;
    Ok(due
        .ms
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_spell_statuses_from_the_enum() {
        assert!(CLAIM_BATCH_SQL.contains("status = 'queued' AND run_at <= now()"));
        assert!(CLAIM_BATCH_SQL.contains("kind = 'provisioning_step'"));
        assert!(ENQUEUE_SQL.contains("WHERE status IN ('queued', 'running') DO NOTHING"));
        for sql in [
            &*ENQUEUE_SQL,
            &*ENQUEUE_AFTER_SQL,
            &*CLAIM_BATCH_SQL,
            &*RENEW_ALL_SQL,
            &*HOLD_ALL_SQL,
            &*SETTLE_ALL_SQL,
            &*RENEW_SQL,
            &*HOLD_SQL,
            &*SETTLE_SQL,
            &*NEXT_DUE_SQL,
        ] {
            assert!(
                !sql.contains('{'),
                "an unknown placeholder is left in {sql}"
            );
        }
    }
}
