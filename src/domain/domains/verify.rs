//! Checking domains: ask the resolvers for every record a domain should publish (one query per
//! distinct name and type, all at once), judge the answers ([`super::check`]), move the status
//! with hysteresis, and store the results — for a batch of domains in one statement, with an
//! audit row (actor: the verifier) for each status change.
//!
//! Due domains are claimed by moving their `next_check_at` forward under `FOR UPDATE SKIP
//! LOCKED`: however many replicas look at once, each domain is checked by one of them.

use std::collections::HashMap;
use std::time::Duration;

use diesel::QueryResult;
use diesel::sql_types::{Array, BigInt, Double, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::check::{self, Lookup, Outcome};
use super::{DomainRow, DomainStatus, RecordOverride, RecordResult, expected};
use crate::domain::audit::{self, Actor, AuditEntry, Outcome as AuditOutcome};
use crate::domain::ids::{DomainId, TenantId};
use crate::events::{self, Event};
use crate::upstream::dns::DnsClient;

/// The audit action of a status change.
pub const STATUS_CHANGED: &str = "domain.status_changed";

/// The actor of the verifier's audit rows.
pub fn verifier() -> Actor {
    Actor {
        user_id: None,
        email: Some("system:domain-verifier".into()),
        ..Actor::default()
    }
}

/// One domain after a check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The domain as it was before.
    pub before: DomainRow,
    /// The record results.
    pub results: Vec<RecordResult>,
    /// How the check ended.
    pub outcome: Outcome,
    /// The status after it.
    pub status: DomainStatus,
    /// Failed checks in a row after it.
    pub failures: i32,
}

/// Checks one domain against the resolvers (no database access), with its overrides.
pub async fn check(
    dns: &DnsClient,
    row: &DomainRow,
    overrides: &[RecordOverride],
    failing_after: u32,
) -> Checked {
    let expected = expected::records(
        &row.name,
        &row.published(),
        row.dmarc_policy,
        &row.rua(),
        &row.ownership_token,
    );
    let mut queries: Vec<(String, &'static str)> = expected
        .iter()
        .map(|e| (e.name.clone(), e.kind.rr_type()))
        .collect();
    queries.sort();
    queries.dedup();
    let answers = futures_util::future::join_all(queries.iter().map(|(name, rr)| async move {
        if *rr == "MX" {
            dns.mx(name).await
        } else {
            dns.txt(name).await
        }
    }))
    .await;
    let answers: HashMap<&(String, &'static str), Lookup> = queries.iter().zip(answers).collect();
    let results: Vec<RecordResult> = expected
        .iter()
        .map(|e| {
            let key = (e.name.clone(), e.kind.rr_type());
            let lookup = answers
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Lookup::Unknown("not asked".into()));
            check::judge(e, &lookup)
        })
        .collect();
    let mut results = results;
    check::apply_overrides(&mut results, overrides);
    let outcome = check::outcome(&results);
    let (status, failures) =
        check::next_status(row.status, row.consecutive_failures, outcome, failing_after);
    Checked {
        before: row.clone(),
        results,
        outcome,
        status,
        failures,
    }
}

/// Claims up to `limit` due domains (their next check moves `lease` ahead, so no other
/// replica takes them meanwhile), oldest first.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: usize,
    lease: Duration,
) -> QueryResult<Vec<DomainRow>> {
    crate::db::cached(
        diesel::sql_query(
            "UPDATE domains d
                SET next_check_at = now() + make_interval(secs => $2::bigint)
              WHERE d.id IN (SELECT id FROM domains WHERE next_check_at <= now()
                              ORDER BY next_check_at LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING d.id, d.tenant_id, d.name, d.stalwart_id, d.is_primary, d.dmarc_policy,
                    d.dmarc_rua, d.ownership_token, d.status, d.published, d.records,
                    d.last_checked_at, d.next_check_at, d.consecutive_failures, d.created_at,
                    d.updated_at",
        )
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind::<BigInt, _>(i64::try_from(lease.as_secs()).unwrap_or(i64::MAX)),
    )
    .load(conn)
    .await
}

/// Stores checks (one statement for all of them): results, status, failures, last check
/// now, next check after `interval` spread by ±10 %; and an audit row for each status change.
/// Use inside a transaction.
pub async fn save(
    conn: &mut AsyncPgConnection,
    checked: &[Checked],
    interval: Duration,
) -> QueryResult<()> {
    if checked.is_empty() {
        return Ok(());
    }
    let ids: Vec<DomainId> = checked.iter().map(|c| c.before.id).collect();
    let records: Vec<serde_json::Value> = checked
        .iter()
        .map(|c| serde_json::to_value(&c.results).unwrap_or_default())
        .collect();
    let statuses: Vec<DomainStatus> = checked.iter().map(|c| c.status).collect();
    let failures: Vec<i32> = checked.iter().map(|c| c.failures).collect();
    crate::db::cached(
        diesel::sql_query(
            "UPDATE domains d
                SET records = u.records, status = u.status, consecutive_failures = u.failures,
                    last_checked_at = now(),
                    next_check_at = now() + make_interval(secs => $5 * (0.9 + random() * 0.2))
               FROM unnest($1::uuid[], $2::jsonb[], $3::text[], $4::int[])
                    AS u(id, records, status, failures)
              WHERE d.id = u.id",
        )
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<Jsonb>, _>(records)
        .bind::<Array<Text>, _>(statuses)
        .bind::<Array<Integer>, _>(failures)
        .bind::<Double, _>(interval.as_secs_f64()),
    )
    .execute(conn)
    .await?;
    let changed: Vec<&Checked> = checked
        .iter()
        .filter(|c| c.status != c.before.status)
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    // The tenants' rows are locked (in id order) before their events are numbered, so each
    // tenant's events commit in id order and a subscriber reading "after id N" misses none.
    let mut tenants: Vec<TenantId> = changed.iter().map(|c| c.before.tenant_id).collect();
    tenants.sort();
    tenants.dedup();
    diesel::sql_query("SELECT id FROM tenants WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind::<Array<SqlUuid>, _>(&tenants)
        .execute(conn)
        .await?;
    for c in changed {
        let mut entry = AuditEntry::new(STATUS_CHANGED, "domain");
        entry.target_id = Some(c.before.name.clone());
        entry.tenant_id = Some(c.before.tenant_id);
        entry.outcome = AuditOutcome::Success;
        entry.details = json!({
            "domainId": c.before.id,
            "from": c.before.status,
            "to": c.status,
            "consecutiveFailures": c.failures,
        });
        audit::record(conn, &verifier(), &entry).await?;
    }
    let events: Vec<Event> = tenants
        .iter()
        .map(|t| Event::DomainStatus(t.uuid()))
        .collect();
    events::notify_all(conn, &events).await
}

/// A status change of one of a tenant's domains (a `domain.status_changed` audit row).
#[derive(diesel::QueryableByName, Debug, Clone)]
pub struct StatusEvent {
    /// The audit row's id: increasing per tenant in commit order.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// The domain's name.
    #[diesel(sql_type = Text)]
    pub domain: String,
    /// The status before.
    #[diesel(sql_type = Text)]
    pub from: DomainStatus,
    /// The status after.
    #[diesel(sql_type = Text)]
    pub to: DomainStatus,
    /// When.
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Up to `limit` status changes of `tenant`'s domains after audit id `after`, oldest first.
pub async fn status_events_after(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<StatusEvent>> {
    crate::db::cached(
        diesel::sql_query(
            "SELECT id, coalesce(target_id, '') AS domain, details->>'from' AS \"from\",
                    details->>'to' AS \"to\", at
               FROM audit_events
              WHERE tenant_id = $1 AND action = 'domain.status_changed' AND id > $2
              ORDER BY id LIMIT $3",
        )
        .bind::<SqlUuid, _>(tenant)
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit),
    )
    .load(conn)
    .await
}
