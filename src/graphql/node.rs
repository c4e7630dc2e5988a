//! The Relay `Node` interface and `node(id:)`.

use async_graphql::{Context, ID, Interface, Object, SimpleObject};

use crate::error::{ApiResult, AppError};
use crate::graphql::ids::{GlobalId, NodeType};

/// A person known to the platform (created on first sign-in).
#[derive(SimpleObject, Clone)]
pub struct User {
    /// Global id.
    pub id: ID,
    /// Email address, as the identity provider reports it.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// An object with a global id that `node(id:)` can fetch.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID", desc = "The object's opaque global id."))]
pub enum Node {
    /// A user.
    User(User),
}

/// `node(id:)`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id. An object the caller may not see answers exactly
    /// like one that does not exist: `NOT_FOUND`.
    async fn node(&self, _ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let global = GlobalId::decode(&id, "id")?;
        match global.ty {
            // Visibility of users is decided by the Viewer, which arrives with the identity
            // slice; until then no user is visible to anyone.
            NodeType::User => Err(AppError::NotFound { what: "node" }.into()),
        }
    }
}
