//! The `Member` type: a user's membership of a tenant.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::members::{MemberRole, MemberRow, MembershipStatus};
use crate::error::ApiResult;
use crate::graphql::connections::CountSource;
use crate::graphql::context::loaders;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::members::loaders::{MemberCountOfTenant, VisibleMember};
use crate::graphql::node::NodeSource;
use crate::graphql::users::types::User;

/// A user's membership of a tenant, with their role there.
pub struct Member(pub MemberRow);

impl Member {
    /// The sort key within the tenant (what a member cursor encodes).
    pub fn key(&self) -> (String, uuid::Uuid) {
        (self.0.email.to_lowercase(), self.0.user_id.uuid())
    }
}

/// A user's membership of a tenant, with their role there.
#[Object]
impl Member {
    /// Global id of the membership.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Member, self.0.id.uuid()).to_id()
    }

    /// The member.
    async fn user(&self) -> User {
        User {
            id: self.0.user_id,
            email: self.0.email.clone(),
            name: self.0.name.clone(),
        }
    }

    /// Their role in the tenant.
    async fn role(&self) -> MemberRole {
        self.0.role
    }

    /// Whether the membership grants access.
    async fn status(&self) -> MembershipStatus {
        self.0.status
    }

    /// When the user joined the tenant.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A member is visible to whoever may see its tenant; the rule is applied in SQL
/// (`domain::members::visible`).
impl NodeSource for Member {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let key = VisibleMember {
            scope: Arc::new(viewer.scope()),
            id: MemberId(id),
        };
        let row = loaders(ctx).db.load_one(key).await?;
        Ok(row.map(|r| Self((*r).clone())))
    }
}

/// `totalCount` of a tenant's members (one batched statement for every tenant of a page).
pub struct MembersCount(pub TenantId);

impl CountSource for MembersCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(MemberCountOfTenant(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a tenant's members (a Relay connection).
    MemberConnection, Member, MembersCount
);
