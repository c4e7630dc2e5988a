//! The `AuditEvent` type, its outcome and the `auditEvents` filter.

use async_graphql::{Enum, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::domain::audit::Outcome;
use crate::domain::audit_query::{AuditEventView, AuditFilter};

/// What came of an audited action.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It happened.
    Success,
    /// Authorization refused it; nothing but the audit row was written.
    Denied,
    /// It was attempted and failed (invalid input, a conflict, an error).
    Failure,
}

impl From<Outcome> for AuditOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => Self::Success,
            Outcome::Denied => Self::Denied,
            Outcome::Failure => Self::Failure,
        }
    }
}

impl From<AuditOutcome> for Outcome {
    fn from(outcome: AuditOutcome) -> Self {
        match outcome {
            AuditOutcome::Success => Self::Success,
            AuditOutcome::Denied => Self::Denied,
            AuditOutcome::Failure => Self::Failure,
        }
    }
}

/// One entry of the audit log (see the `#[Object]` block for its description).
pub struct AuditEvent(pub AuditEventView);

/// One entry of the append-only audit log: an attempted change, who tried it, and what came
/// of it.
#[Object]
impl AuditEvent {
    /// Global id.
    pub async fn id(&self) -> async_graphql::ID {
        crate::graphql::ids::GlobalId::serial(crate::graphql::ids::NodeType::AuditEvent, self.0.id)
            .to_id()
    }

    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// Dotted action name, e.g. `tenant.create` or `membership.create`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// What came of it.
    async fn outcome(&self) -> AuditOutcome {
        self.0.outcome().into()
    }

    /// The acting user's email at the time; `null` for system actions.
    async fn actor_email(&self) -> Option<&str> {
        self.0.actor_email.as_deref()
    }

    /// Kind of object acted on, e.g. `tenant` or `user`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }

    /// Id of the object acted on, as text (a uuid or an upstream id), if any.
    async fn target_id(&self) -> Option<&str> {
        self.0.target_id.as_deref()
    }

    /// Slug of the tenant the event concerns, if any.
    async fn tenant_slug(&self) -> Option<&str> {
        self.0.tenant_slug.as_deref()
    }

    /// Slug of the partner the event concerns, if any.
    async fn partner_slug(&self) -> Option<&str> {
        self.0.partner_slug.as_deref()
    }

    /// Specifics of the event (a JSON object; never contains secrets).
    async fn details(&self) -> &serde_json::Value {
        &self.0.details
    }

    /// Id of the API request that caused it (the `x-request-id` of that response).
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The client's IP address as the API saw it.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
}

/// Narrows `auditEvents`; every field given must match. A tenant or partner outside the
/// caller's view matches nothing, exactly like one that does not exist.
#[derive(InputObject, Debug, Default)]
pub struct AuditEventFilter {
    /// Events of the tenant with this slug.
    pub tenant: Option<String>,
    /// Events of the partner with this slug, and of the tenants it owns.
    pub partner: Option<String>,
    /// Exactly this action, e.g. `tenant.create`.
    pub action: Option<String>,
    /// Only this outcome.
    pub outcome: Option<AuditOutcome>,
    /// Events whose actor had this email (case-insensitive, whole address).
    pub actor_email: Option<String>,
    /// Case-insensitive substring of the action, the target id or the actor's email (at most
    /// 200 characters; blank means no search).
    pub search: Option<String>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant (not after `since`).
    pub before: Option<DateTime<Utc>>,
}

impl From<AuditEventFilter> for AuditFilter {
    fn from(f: AuditEventFilter) -> Self {
        Self {
            tenant: f.tenant,
            partner: f.partner,
            action: f.action,
            outcome: f.outcome.map(Into::into),
            actor_email: f.actor_email,
            search: f.search,
            since: f.since,
            before: f.before,
            ids: None,
        }
    }
}
