//! The audit log: one append-only row per mutation attempt (success, denied or failure),
//! written in the same transaction as the change it records.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::audit_events;

/// Outcome of an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Success,
    /// Authorization refused it.
    Denied,
    /// It failed.
    Failure,
}

impl Outcome {
    /// The database value (`audit_events.outcome`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }
}

/// Who acted and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `users.id`, when known.
    pub user_id: Option<Uuid>,
    /// Email at the time.
    pub email: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
}

/// One event to record. `details` must never contain secrets.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Dotted action name, e.g. `tenant.create`.
    pub action: &'static str,
    /// Kind of target, e.g. `tenant`.
    pub target_type: &'static str,
    /// Target id.
    pub target_id: Option<String>,
    /// Tenant concerned.
    pub tenant_id: Option<Uuid>,
    /// Partner concerned.
    pub partner_id: Option<Uuid>,
    /// Outcome.
    pub outcome: Outcome,
    /// Specifics (a JSON object).
    pub details: serde_json::Value,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    tenant_id: Option<Uuid>,
    partner_id: Option<Uuid>,
    actor_user_id: Option<Uuid>,
    actor_email: Option<&'a str>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    outcome: &'a str,
    details: &'a serde_json::Value,
    request_id: Option<&'a str>,
    ip: Option<&'a str>,
}

/// Appends one event (use inside the transaction of the change).
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entry: &AuditEntry,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            tenant_id: entry.tenant_id,
            partner_id: entry.partner_id,
            actor_user_id: actor.user_id,
            actor_email: actor.email.as_deref(),
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id.as_deref(),
            outcome: entry.outcome.as_str(),
            details: &entry.details,
            request_id: actor.request_id.as_deref(),
            ip: actor.ip.as_deref(),
        })
        .execute(conn)
        .await?;
    Ok(())
}
