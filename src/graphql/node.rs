//! The Relay `Node` interface, `node(id:)` and `nodes(ids:)`.

use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object};

use crate::auth::{ContextAuth, Viewer};
use crate::db::DbPool;
use crate::db::models::TenantRow;
use crate::domain::audit_query::{AuditFilter, AuditScope, PageWindow, Towards};
use crate::error::{ApiError, ApiResult, AppError, ErrorCode};
use crate::graphql::audit::types::AuditEvent;
use crate::graphql::ids::NodeKey;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::loaders::{Loaders, MemberById, PartnerById, TenantById, UserById};
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
    /// object the caller may not see answers exactly like one that does not exist: `null`
    /// with a `NOT_FOUND` error.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> ApiResult<Option<Node>> {
        let global = GlobalId::decode(&id, "id")?;
        let viewer = ctx.viewer().await?;
        Ok(Some(resolve(ctx, &viewer, global).await?))
    }

    /// Fetches up to 100 objects by global id, in the order asked; an id the caller may not
    /// see (or that names nothing) gives `null` in its place. Ids of one type are fetched in
    /// one statement.
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
        let results =
            futures_util::future::join_all(globals.into_iter().map(|g| resolve(ctx, &viewer, g)))
                .await;
        results
            .into_iter()
            .map(|r| match r {
                Ok(node) => Ok(Some(node)),
                Err(e) if e.0.code() == ErrorCode::NotFound => Ok(None),
                Err(other) => Err(other),
            })
            .collect()
    }
}

fn not_found() -> ApiError {
    AppError::NotFound { what: "node" }.into()
}

/// The tenant `id` if the viewer may see it, through the batching loader.
async fn visible_tenant(
    ctx: &Context<'_>,
    viewer: &Viewer,
    id: uuid::Uuid,
) -> ApiResult<Arc<TenantRow>> {
    let loaders = ctx.data_unchecked::<Loaders>();
    let row = loaders.db.load_one(TenantById(id)).await?;
    row.filter(|t| viewer.can_see_tenant(t.id, t.partner_id))
        .ok_or_else(not_found)
}

async fn resolve(ctx: &Context<'_>, viewer: &Viewer, global: GlobalId) -> ApiResult<Node> {
    let loaders = ctx.data_unchecked::<Loaders>();
    match global.ty {
        NodeType::Tenant => Ok(Node::Tenant(Tenant(
            (*visible_tenant(ctx, viewer, global.uuid()).await?).clone(),
        ))),
        NodeType::Partner => {
            let row = loaders.db.load_one(PartnerById(global.uuid())).await?;
            let row = row
                .filter(|p| viewer.can_see_partner(p.id))
                .ok_or_else(not_found)?;
            Ok(Node::Partner(Partner((*row).clone())))
        }
        // A membership is visible to whoever may see its tenant.
        NodeType::Member => {
            let row = loaders
                .db
                .load_one(MemberById(global.uuid()))
                .await?
                .ok_or_else(not_found)?;
            visible_tenant(ctx, viewer, row.tenant_id).await?;
            Ok(Node::Member(Member((*row).clone())))
        }
        // A user is visible to themselves and to operators.
        NodeType::User => {
            if global.uuid() != viewer.user_id && !viewer.is_operator() {
                return Err(not_found());
            }
            let row = loaders
                .db
                .load_one(UserById(global.uuid()))
                .await?
                .ok_or_else(not_found)?;
            Ok(Node::User(User {
                id: GlobalId::new(NodeType::User, row.id).to_id(),
                email: row.email.clone(),
                name: row.name.clone(),
            }))
        }
        // An audit event is visible within the caller's `auditEvents` scope (same SQL).
        NodeType::AuditEvent => {
            let NodeKey::Serial(id) = global.key else {
                return Err(not_found());
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
            let (rows, _) = crate::domain::audit_query::list(
                &mut conn,
                &AuditScope::of(viewer),
                &filter,
                Some(&window),
                false,
            )
            .await?;
            rows.into_iter()
                .next()
                .map(|e| Node::AuditEvent(AuditEvent(e)))
                .ok_or_else(not_found)
        }
    }
}
