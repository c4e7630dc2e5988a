//! What the retention job deletes, one bounded batch per statement (each statement its own
//! short transaction, rows locked with `SKIP LOCKED`, so nothing waits on a long lock):
//! - finished jobs (`done`, `dead`) last changed before a cutoff (`JOB_RETENTION_DAYS`);
//! - provisioning events older than a cutoff, except each tenant's newest event (the next
//!   event's `seq` is computed from it, and it is the tenant's current state);
//! - Stripe events handled before a cutoff (`EVENT_RETENTION_DAYS`);
//! - audit log exports past their `expires_at` (with their CSV chunks).
//!
//! Audit events are never deleted here.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The statuses stay literals in the text: `jobs_finished_idx`'s predicate must match them.
static FINISHED_JOBS: LazyLock<String> = LazyLock::new(|| {
    crate::domain::jobs::with_statuses(
        "DELETE FROM jobs WHERE id IN (
           SELECT id FROM jobs
            WHERE status IN ({done}, {dead}) AND updated_at < $1
            ORDER BY updated_at
            LIMIT $2
              FOR UPDATE SKIP LOCKED)",
    )
});

const PROVISIONING_EVENTS: &str = "DELETE FROM provisioning_events WHERE id IN (
       SELECT o.id FROM provisioning_events o
        WHERE o.at < $1
          AND EXISTS (SELECT 1 FROM provisioning_events n
                       WHERE n.tenant_id = o.tenant_id AND n.seq > o.seq)
        ORDER BY o.at
        LIMIT $2
          FOR UPDATE SKIP LOCKED)";

const STRIPE_EVENTS: &str = "DELETE FROM stripe_events WHERE id IN (
       SELECT id FROM stripe_events
        WHERE processed_at IS NOT NULL AND processed_at < $1
        ORDER BY processed_at
        LIMIT $2
          FOR UPDATE SKIP LOCKED)";

const EXPIRED_AUDIT_EXPORTS: &str = "DELETE FROM audit_exports WHERE id IN (
       SELECT id FROM audit_exports
        WHERE expires_at < $1
        ORDER BY expires_at
        LIMIT $2
          FOR UPDATE SKIP LOCKED)";

/// A table the retention job prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prunable {
    /// `jobs` in `done` or `dead`.
    FinishedJobs,
    /// `provisioning_events` but each tenant's newest.
    ProvisioningEvents,
    /// `stripe_events` with `processed_at`.
    StripeEvents,
    /// `audit_exports` past `expires_at` (the cutoff is the current time).
    ExpiredAuditExports,
}

impl Prunable {
    /// Every prunable table.
    pub const ALL: [Self; 4] = [
        Self::FinishedJobs,
        Self::ProvisioningEvents,
        Self::StripeEvents,
        Self::ExpiredAuditExports,
    ];

    fn sql(self) -> &'static str {
        match self {
            Self::FinishedJobs => FINISHED_JOBS.as_str(),
            Self::ProvisioningEvents => PROVISIONING_EVENTS,
            Self::StripeEvents => STRIPE_EVENTS,
            Self::ExpiredAuditExports => EXPIRED_AUDIT_EXPORTS,
        }
    }
}

/// Deletes at most `batch` rows of `what` older than `before`; returns how many went.
#[tracing::instrument(skip(conn))]
pub async fn prune_batch(
    conn: &mut AsyncPgConnection,
    what: Prunable,
    before: DateTime<Utc>,
    batch: i64,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(what.sql())
        .bind::<Timestamptz, _>(before)
        .bind::<BigInt, _>(batch)
        .execute(conn)
        .await
}
