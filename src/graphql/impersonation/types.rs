//! `ImpersonationSession` and the viewer's banner object.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::auth::viewer::Impersonation;
use crate::db::DbPool;
use crate::domain::impersonation::{self, SessionRow};
use crate::domain::members::MemberRole;
use crate::domain::members::MembershipStatus;
use crate::error::ApiResult;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::node::NodeSource;

/// A period in which an operator acted as a user, with the reason they gave. Seen by
/// operators and by the admins of the tenants it concerns (the one named for it, and those
/// the user is a member of).
#[derive(Clone)]
pub struct ImpersonationSession(pub SessionRow);

/// A period in which an operator acted as a user, with the reason they gave.
#[Object]
impl ImpersonationSession {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::ImpersonationSession, self.0.id).to_id()
    }

    /// The operator's email.
    async fn operator_email(&self) -> &str {
        &self.0.operator_email
    }

    /// The operator's name.
    async fn operator_name(&self) -> &str {
        &self.0.operator_name
    }

    /// The email of the user acted as.
    async fn user_email(&self) -> &str {
        &self.0.user_email
    }

    /// Why the operator impersonated the user.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// When it started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// When it ends at the latest.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// When it was ended early (`endImpersonation`), if it was.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    /// Whether it is still running (not ended, not expired).
    async fn active(&self) -> bool {
        self.0.is_open()
    }
}

/// Operators, and the admins of a tenant the session concerns.
impl NodeSource for ImpersonationSession {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let Some(row) = impersonation::by_id(&mut conn, id).await? else {
            return Ok(None);
        };
        if viewer.is_operator() {
            return Ok(Some(Self(row)));
        }
        let admin_of: Vec<_> = viewer
            .memberships
            .iter()
            .filter(|m| {
                m.status == MembershipStatus::Active
                    && matches!(m.role, MemberRole::Owner | MemberRole::Admin)
            })
            .map(|m| m.tenant_id)
            .collect();
        let visible = impersonation::concerns_any(&mut conn, &row, &admin_of).await?;
        Ok(visible.then_some(Self(row)))
    }
}

/// Who is acting, for the portal's banner.
#[derive(SimpleObject)]
pub struct ImpersonationOperator {
    /// The operator's email.
    pub email: String,
    /// The operator's name.
    pub name: String,
}

/// The impersonation the request runs under (`me.impersonation`): the portal shows a banner
/// while it is set.
#[derive(SimpleObject)]
pub struct ViewerImpersonation {
    /// The session's global id (for `endImpersonation`).
    pub session_id: ID,
    /// Who is acting as the user.
    pub operator: ImpersonationOperator,
    /// Why, as the operator gave it.
    pub reason: String,
    /// When the session started.
    pub started_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
}

impl From<&Impersonation> for ViewerImpersonation {
    fn from(i: &Impersonation) -> Self {
        Self {
            session_id: GlobalId::new(NodeType::ImpersonationSession, i.session_id).to_id(),
            operator: ImpersonationOperator {
                email: i.operator_email.clone(),
                name: i.operator_name.clone(),
            },
            reason: i.reason.clone(),
            started_at: i.started_at,
            expires_at: i.expires_at,
        }
    }
}
