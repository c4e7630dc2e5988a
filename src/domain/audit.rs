//! The audit log: one append-only row per mutation attempt (success, denied or failure),
//! written in the same transaction as the change it records.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::DbPool;
use crate::db::schema::audit_events;
use crate::error::{AppError, AppResult, ErrorCode};

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

    /// The caller if it has operator powers; otherwise the refusal, marked as denied.
    pub fn require_operator(
        &mut self,
        viewer: AppResult<std::sync::Arc<crate::auth::Viewer>>,
    ) -> AppResult<std::sync::Arc<crate::auth::Viewer>> {
        let viewer = viewer.map_err(|e| self.deny(e))?;
        if viewer.is_operator() {
            Ok(viewer)
        } else {
            Err(self.deny(AppError::Forbidden("operator access required".into())))
        }
    }
}

/// The boxed future a mutation's change returns.
pub type ChangeFuture<'c, T> = futures_util::future::BoxFuture<'c, AppResult<T>>;

/// Runs a mutation: `change` and its audit row commit in one transaction. If `change` fails,
/// everything it did is rolled back and only the audit row is written (outcome `denied` for an
/// authorization refusal, `failure` otherwise, with the error code in `details.error`).
pub async fn audited<T, F>(
    pool: &DbPool,
    actor: &Actor,
    mut entry: AuditEntry,
    change: F,
) -> AppResult<T>
where
    T: Send,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection, &'c mut AuditEntry) -> ChangeFuture<'c, T> + Send,
{
    let mut conn = pool.get().await?;
    let slot = &mut entry;
    let result = conn
        .transaction::<T, AppError, _>(async move |conn| {
            let value = change(conn, slot).await?;
            slot.outcome = Outcome::Success;
            record(conn, actor, slot).await?;
            Ok(value)
        })
        .await;
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            let refused = matches!(
                error.code(),
                ErrorCode::Forbidden | ErrorCode::Unauthenticated
            );
            entry.outcome = if refused || entry.outcome == Outcome::Denied {
                Outcome::Denied
            } else {
                Outcome::Failure
            };
            if let Some(details) = entry.details.as_object_mut() {
                details.insert("error".into(), serde_json::json!(error.code().as_str()));
                if let AppError::BadUserInput { field, .. } = &error {
                    details.insert("field".into(), serde_json::json!(field));
                }
            }
            if let Err(audit_error) = record(&mut conn, actor, &entry).await {
                tracing::error!(error = %audit_error, action = entry.action, "could not write the audit row of a failed mutation");
            }
            Err(error)
        }
    }
}
