//! The Relay `Node` interface, `node(id:)` and `nodes(ids:)`.

use async_graphql::{Context, ID, Interface, Object};

use crate::auth::{ContextAuth, Viewer};
use crate::db::DbPool;
use crate::domain;
use crate::domain::audit_query::{AuditFilter, AuditScope, PageWindow, Towards};
use crate::error::{ApiResult, AppError, AppResult};
use crate::graphql::audit::types::AuditEvent;
use crate::graphql::ids::NodeKey;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::members::types::Member;
use crate::graphql::partners::types::Partner;
use crate::graphql::tenants::types::Tenant;

/// The most ids `nodes(ids:)` takes at once.
const MAX_NODES: usize = 100;

/// A person known to the platform (created on first sign-in).
#[derive(Clone)]
pub struct User {
    /// Global id.
    pub id: ID,
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
        self.id.clone()
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

/// An object with a global id that `node(id:)` can fetch.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's opaque global id."))]
pub enum Node {
    /// A user.
    User(User),
    /// A tenant.
    Tenant(Tenant),
    /// A partner.
    Partner(Partner),
    /// A tenant membership.
    Member(Member),
    /// An audit log entry.
    AuditEvent(AuditEvent),
}

/// `node(id:)` and `nodes(ids:)`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id, with the same visibility as its own query. An
    /// object the caller may not see answers exactly like one that does not exist:
    /// `NOT_FOUND`.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> ApiResult<Option<Node>> {
        let global = GlobalId::decode(&id, "id")?;
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(Some(resolve(&mut conn, &viewer, global).await?))
    }

    /// Fetches up to 100 objects by global id, in the order asked; an id the caller may not
    /// see (or that names nothing) gives `null` in its place.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Up to 100 global ids.")] ids: Vec<ID>,
    ) -> ApiResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(
                AppError::bad_input("ids", format!("at most {MAX_NODES} ids at once")).into(),
            );
        }
        let globals = ids
            .iter()
            .enumerate()
            .map(|(i, id)| GlobalId::decode(id, &format!("ids.{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let mut out = Vec::with_capacity(globals.len());
        for global in globals {
            match resolve(&mut conn, &viewer, global).await {
                Ok(node) => out.push(Some(node)),
                Err(AppError::NotFound { .. }) => out.push(None),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(out)
    }
}

async fn resolve(
    conn: &mut diesel_async::AsyncPgConnection,
    viewer: &Viewer,
    global: GlobalId,
) -> AppResult<Node> {
    match global.ty {
        NodeType::Tenant => Ok(Node::Tenant(Tenant(
            domain::tenants::visible_by_id(conn, viewer, global.uuid()).await?,
        ))),
        NodeType::Partner => Ok(Node::Partner(Partner(
            domain::partners::visible_by_id(conn, viewer, global.uuid()).await?,
        ))),
        // An audit event is visible within the caller's `auditEvents` scope (same SQL).
        NodeType::AuditEvent => {
            let NodeKey::Serial(id) = global.key else {
                return Err(AppError::NotFound { what: "node" });
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
            let (rows, _) = crate::domain::audit_query::list(
                conn,
                &AuditScope::of(viewer),
                &filter,
                Some(&window),
                false,
            )
            .await?;
            rows.into_iter()
                .next()
                .map(|e| Node::AuditEvent(AuditEvent(e)))
                .ok_or(AppError::NotFound { what: "node" })
        }
        // A membership is visible to whoever may see its tenant.
        NodeType::Member => {
            let row = domain::members::by_ids(conn, &[global.uuid()])
                .await?
                .into_iter()
                .next()
                .ok_or(AppError::NotFound { what: "node" })?;
            domain::tenants::visible_by_id(conn, viewer, row.tenant_id)
                .await
                .map_err(|_| AppError::NotFound { what: "node" })?;
            Ok(Node::Member(Member(row)))
        }
        // A user is visible to themselves and to operators.
        NodeType::User => {
            if global.uuid() != viewer.user_id && !viewer.is_operator() {
                return Err(AppError::NotFound { what: "node" });
            }
            let row = domain::users::find(conn, global.uuid())
                .await?
                .ok_or(AppError::NotFound { what: "node" })?;
            Ok(Node::User(User {
                id: GlobalId::new(NodeType::User, row.id).to_id(),
                email: row.email,
                name: row.name,
            }))
        }
    }
}
