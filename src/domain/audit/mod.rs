//! The audit log: one append-only row per mutation attempt (success, denied or failure),
//! written in the same transaction as the change it records. Mutations run through
//! [`change`] (the audited runner); the log is read through [`query`].

pub mod change;
pub mod export;
pub mod query;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::ids::{PartnerId, TenantId, UserId};

use crate::auth::Viewer;
use crate::db::schema::audit_events;
use crate::error::AppError;

crate::text_enum! {
    /// What came of an audited action.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "AuditOutcome")]
    pub enum Outcome {
        /// It happened.
        Success = "success",
        /// Authorization refused it; nothing but the audit row was written.
        Denied = "denied",
        /// It was attempted and failed (invalid input, a conflict, an error).
        Failure = "failure",
    }
}

/// Who acted and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `users.id`, when known.
    pub user_id: Option<UserId>,
    /// Email at the time.
    pub email: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
    /// Under impersonation: the user acted as (`user_id`/`email` are then the operator).
    pub subject_user_id: Option<UserId>,
    /// Under impersonation: that user's email.
    pub subject_email: Option<String>,
    /// Under impersonation: the session.
    pub impersonation_session_id: Option<uuid::Uuid>,
}

impl Actor {
    /// The actor of a request by `viewer`: the viewer, or under impersonation the operator,
    /// with the user acted as and the session (the one place attribution is decided).
    pub fn of(viewer: Option<&Viewer>, request_id: Option<String>, ip: Option<String>) -> Self {
        let mut actor = Self {
            request_id,
            ip,
            ..Self::default()
        };
        let Some(viewer) = viewer else {
            return actor;
        };
        match &viewer.impersonation {
            None => {
                actor.user_id = Some(viewer.user_id);
                actor.email = Some(viewer.email.clone());
            }
            Some(session) => {
                actor.user_id = Some(session.operator_id);
                actor.email = Some(session.operator_email.clone());
                actor.subject_user_id = Some(viewer.user_id);
                actor.subject_email = Some(viewer.email.clone());
                actor.impersonation_session_id = Some(session.session_id);
            }
        }
        actor
    }
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
    pub tenant_id: Option<TenantId>,
    /// Partner concerned.
    pub partner_id: Option<PartnerId>,
    /// Outcome.
    pub outcome: Outcome,
    /// Specifics (a JSON object).
    pub details: serde_json::Value,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    tenant_id: Option<TenantId>,
    partner_id: Option<PartnerId>,
    actor_user_id: Option<UserId>,
    actor_email: Option<&'a str>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    outcome: Outcome,
    details: &'a serde_json::Value,
    request_id: Option<&'a str>,
    ip: Option<&'a str>,
    subject_user_id: Option<UserId>,
    subject_email: Option<&'a str>,
    impersonation_session_id: Option<uuid::Uuid>,
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
            outcome: entry.outcome,
            details: &entry.details,
            request_id: actor.request_id.as_deref(),
            ip: actor.ip.as_deref(),
            subject_user_id: actor.subject_user_id,
            subject_email: actor.subject_email.as_deref(),
            impersonation_session_id: actor.impersonation_session_id,
        })
        .execute(conn)
        .await?;
    Ok(())
}

impl AuditEntry {
    /// An entry for `action` on a `target_type`; the mutation fills in the rest as it goes.
    pub fn new(action: &'static str, target_type: &'static str) -> Self {
        Self {
            action,
            target_type,
            target_id: None,
            tenant_id: None,
            partner_id: None,
            outcome: Outcome::Success,
            details: serde_json::json!({}),
        }
    }

    /// Marks the attempt as refused by authorization and passes the error on.
    pub fn deny(&mut self, error: AppError) -> AppError {
        self.outcome = Outcome::Denied;
        error
    }
}
