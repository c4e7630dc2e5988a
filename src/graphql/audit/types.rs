//! The `AuditEvent` type, its outcome and the `auditEvents` filter.

use async_graphql::{Context, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::db::DbPool;
use crate::domain::audit::query::{
    self, AuditEventView, AuditFilter, AuditScope, PageWindow, Towards,
};
use crate::error::ApiResult;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::node::NodeSource;
use crate::graphql::pagination::ConnectionFields;

pub use crate::domain::audit::Outcome as AuditOutcome;

/// One entry of the audit log (see the `#[Object]` block for its description).
pub struct AuditEvent(pub AuditEventView);

/// One entry of the append-only audit log: an attempted change, who tried it, and what came
/// of it.
#[Object]
impl AuditEvent {
    /// Global id.
    pub async fn id(&self) -> async_graphql::ID {
        GlobalId::serial(NodeType::AuditEvent, self.0.id).to_id()
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
        self.0.outcome
    }

    /// The acting user's email at the time; `null` for system actions.
    async fn actor_email(&self) -> Option<&str> {
        self.0.actor_email.as_deref()
    }

    /// Under impersonation, the email of the user the operator acted as (`actorEmail` is then
    /// the operator's); `null` otherwise.
    async fn subject_email(&self) -> Option<&str> {
        self.0.subject_email.as_deref()
    }

    /// Under impersonation, the session the change was made in; `null` otherwise.
    async fn impersonation_session_id(&self) -> Option<async_graphql::ID> {
        self.0
            .impersonation_session_id
            .map(|id| GlobalId::new(NodeType::ImpersonationSession, id).to_id())
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
            outcome: f.outcome,
            actor_email: f.actor_email,
            search: f.search,
            since: f.since,
            before: f.before,
            ids: None,
        }
    }
}

/// An audit event is visible within the caller's `auditEvents` scope (the same SQL).
impl NodeSource for AuditEvent {
    const SERIAL: bool = true;

    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Serial(id) = key else {
            return Ok(None);
        };
        let filter = AuditFilter {
            ids: Some(vec![id]),
            ..AuditFilter::default()
        };
        let window = PageWindow {
            towards: Towards::Older,
            cursor: None,
            rows: 1,
        };
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let (rows, _) = query::list(
            &mut conn,
            &AuditScope::of(viewer),
            &filter,
            Some(&window),
            false,
        )
        .await?;
        Ok(rows.into_iter().next().map(Self))
    }
}

crate::connection_type!(
    /// A page of the audit log, newest first (a Relay connection).
    AuditEventConnection, AuditEvent, ConnectionFields
);
