//! The `User` type.

use async_graphql::{Context, ID, Object};

use crate::auth::Viewer;
use crate::domain::ids::UserId;
use crate::domain::users::UserRow;
use crate::error::ApiResult;
use crate::graphql::context::loaders;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::loaders::ById;
use crate::graphql::node::NodeSource;

/// A person known to the platform (created on first sign-in).
#[derive(Clone)]
pub struct User {
    /// `users.id`.
    pub id: UserId,
    /// Email address, as the identity provider reports it.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// A person known to the platform (created on first sign-in).
#[Object]
impl User {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::User, self.id.uuid()).to_id()
    }

    /// Email address, as the identity provider reports it.
    async fn email(&self) -> &str {
        &self.email
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.name
    }
}

/// A user is visible to themselves and to operators.
impl NodeSource for User {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let id = UserId(id);
        if !viewer.sees_user(id) {
            return Ok(None);
        }
        let row = loaders(ctx).db.load_one(ById::<UserRow>(id)).await?;
        Ok(row.map(|r| Self {
            id: r.id,
            email: r.email.clone(),
            name: r.name.clone(),
        }))
    }
}
