//! The `Member` type: a user's membership of a tenant.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::viewer::{MemberRole, MembershipStatus};
use crate::db::models::MemberRow;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::node::User;

/// A user's membership of a tenant, with their role there.
pub struct Member(pub MemberRow);

impl Member {
    /// The sort key within the tenant (what a member cursor encodes).
    pub fn key(&self) -> (String, uuid::Uuid) {
        (self.0.email.to_lowercase(), self.0.user_id)
    }
}

/// A user's membership of a tenant, with their role there.
#[Object]
impl Member {
    /// Global id of the membership.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Member, self.0.id).to_id()
    }

    /// The member.
    async fn user(&self) -> User {
        User {
            id: GlobalId::new(NodeType::User, self.0.user_id).to_id(),
            email: self.0.email.clone(),
            name: self.0.name.clone(),
        }
    }

    /// Their role in the tenant.
    async fn role(&self) -> MemberRole {
        match self.0.role.as_str() {
            "owner" => MemberRole::Owner,
            "admin" => MemberRole::Admin,
            _ => MemberRole::Member,
        }
    }

    /// Whether the membership grants access.
    async fn status(&self) -> MembershipStatus {
        if self.0.status == "active" {
            MembershipStatus::Active
        } else {
            MembershipStatus::Suspended
        }
    }

    /// When the user joined the tenant.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
