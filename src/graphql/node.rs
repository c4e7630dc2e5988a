//! The Relay `Node` interface, `node(id:)` and `nodes(ids:)`.
//!
//! Every type with a global id is listed once, in the `nodes!` list below; the type
//! implements [`NodeSource`] in its own area (`graphql/<area>/`), with the
//! same visibility as its own queries. The list generates [`NodeType`] (the type names encoded
//! in ids), the [`Node`] interface and the dispatch of `node`/`nodes`.

use std::future::Future;

use async_graphql::{Context, ID, Interface, Object};

use crate::auth::{ContextAuth, Viewer};
use crate::error::{ApiError, ApiResult, AppError, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeKey};

/// The most ids `nodes(ids:)` takes at once.
const MAX_NODES: usize = 100;

/// A type that `node(id:)` can fetch.
pub trait NodeSource: Sized + Send {
    /// Whether the type's ids are serial numbers rather than UUIDs.
    const SERIAL: bool = false;

    /// The object with `key`, if it exists and the viewer may see it (batched per type).
    fn fetch(
        ctx: &Context<'_>,
        viewer: &Viewer,
        key: NodeKey,
    ) -> impl Future<Output = ApiResult<Option<Self>>> + Send;
}

macro_rules! nodes {
    ($( $(#[doc = $doc:literal])* $variant:ident ),+ $(,)?) => {
        /// The object types that carry global ids.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum NodeType {
            $( $(#[doc = $doc])* $variant ),+
        }

        impl NodeType {
            /// Every type, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The GraphQL type name, as encoded in the id.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant)),+
                }
            }

            /// Whether rows of this type are keyed by a serial number rather than a UUID.
            pub const fn serial(self) -> bool {
                match self {
                    $(Self::$variant => <$variant as NodeSource>::SERIAL),+
                }
            }
        }

        /// An object with a global id that `node(id:)` can fetch.
        #[derive(Interface)]
        #[graphql(field(name = "id", ty = "ID", desc = "The object's opaque global id."))]
        pub enum Node {
            $( $(#[doc = $doc])* $variant($variant) ),+
        }

        /// The object `global` names, if the viewer may see it.
        async fn fetch(ctx: &Context<'_>, viewer: &Viewer, global: GlobalId) -> ApiResult<Option<Node>> {
            Ok(match global.ty {
                $(NodeType::$variant => {
                    <$variant as NodeSource>::fetch(ctx, viewer, global.key).await?.map(Node::$variant)
                }),+
            })
        }
    };
}

// One line per type with a global id: its type (imported above the list) is the variant.
use crate::graphql::audit::export::AuditExport;
use crate::graphql::audit::types::AuditEvent;
use crate::graphql::domains::types::Domain;
use crate::graphql::impersonation::types::ImpersonationSession;
use crate::graphql::members::types::Member;
use crate::graphql::partners::types::Partner;
use crate::graphql::tenants::types::Tenant;
use crate::graphql::users::types::User;

nodes! {
    /// A person known to the platform.
    User,
    /// A customer organisation.
    Tenant,
    /// A reseller.
    Partner,
    /// A user's membership of a tenant.
    Member,
    /// An audit log entry (keyed by its serial number).
    AuditEvent,
    /// A tenant's mail domain.
    Domain,
    /// A period in which an operator acted as a user.
    ImpersonationSession,
    /// An export of the audit log to CSV.
    AuditExport,
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
        Ok(Some(
            fetch(ctx, &viewer, global).await?.ok_or_else(not_found)?,
        ))
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
            futures_util::future::join_all(globals.into_iter().map(|g| fetch(ctx, &viewer, g)))
                .await;
        results
            .into_iter()
            .map(|r| match r {
                Ok(node) => Ok(node),
                Err(e) if e.0.code() == ErrorCode::NotFound => Ok(None),
                Err(other) => Err(other),
            })
            .collect()
    }
}

fn not_found() -> ApiError {
    AppError::NotFound { what: "node" }.into()
}
