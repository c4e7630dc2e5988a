//! One schema per audience. The portal and the operator console read the same API, but
//! introspection answers each with its own view: fields, mutations and the types only they
//! reach that are for operators are invisible to the portal (async-graphql `visible`).
//!
//! Hiding is never the protection: every operator-only field keeps its guard (or its domain
//! check), so calling one with a portal token is still refused with `FORBIDDEN`. Visibility
//! only decides what introspection (GraphiQL, code generators) shows.
//!
//! The view is decided here and only here:
//! - a verified token for the operator audience (`AUTH_OPERATOR_AUDIENCE`) sees the operator
//!   view, the whole schema;
//! - anyone else — a portal token, no token, or a token that does not verify — sees the
//!   portal view. (The audience alone decides the view; whether an operator-audience caller is
//!   also `platform_admin` is for the guards.)
//!
//! Tokens are verified lazily (see `auth::context`), so [`ResolveView`] verifies the caller's
//! token before execution only when the document introspects, and puts the resulting
//! [`SchemaView`] into the request data, where [`operator_only`] reads it.

use std::any::{Any, TypeId};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Context, Data, Request, ServerResult};

use crate::auth::context::AuthServices;
use crate::auth::{Audience, AuthContext};

/// Which view of the schema introspection shows (request data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaView {
    /// What the customer portal may use: no operator-only field, mutation or type.
    Portal,
    /// The operator console's view: the whole schema.
    Operator,
}

impl SchemaView {
    /// The view for a caller whose verified token has `audience` (`None`: no valid token).
    pub fn for_audience(audience: Option<Audience>) -> Self {
        match audience {
            Some(Audience::Operator) => Self::Operator,
            Some(Audience::Portal) | None => Self::Portal,
        }
    }

    /// The name used by `print-schema --audience` and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::Operator => "operator",
        }
    }
}

/// The `visible` function of every operator-only field: shown in the operator view only.
/// Without a resolved view (nothing introspected) it answers as for the portal.
pub fn operator_only(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<SchemaView>() == Some(&SchemaView::Operator)
}

/// Whether a GraphQL document reads the schema (`__schema` or `__type`, not `__typename`).
/// A false positive only costs one token verification.
pub fn introspects(query: &str) -> bool {
    ["__schema", "__type"].iter().any(|name| {
        query.match_indices(name).any(|(at, _)| {
            !query[at + name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// The extension that resolves the caller's [`SchemaView`] before an introspecting request
/// executes (HTTP and WebSocket alike). A view already in the request data (as
/// `print-schema --audience` sets it) is kept.
pub struct ResolveView;

impl ExtensionFactory for ResolveView {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolveViewExtension)
    }
}

struct ResolveViewExtension;

fn get<T: Any>(data: &Data) -> Option<&T> {
    data.get(&TypeId::of::<T>())?.downcast_ref::<T>()
}

#[async_graphql::async_trait::async_trait]
impl Extension for ResolveViewExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if get::<SchemaView>(&request.data).is_none() && introspects(&request.query) {
            let auth = get::<Arc<AuthContext>>(&request.data)
                .or_else(|| get::<Arc<AuthContext>>(ctx.session_data))
                .cloned();
            let audience = match (auth, ctx.data_opt::<Arc<AuthServices>>()) {
                (Some(auth), Some(services)) => auth.token(services).await.ok().map(|t| t.audience),
                _ => None,
            };
            request.data.insert(SchemaView::for_audience(audience));
        }
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_introspection_but_not_typename() {
        assert!(introspects("{ __schema { types { name } } }"));
        assert!(introspects(
            "{ __type(name: \"Tenant\") { fields { name } } }"
        ));
        assert!(introspects("query{__schema{queryType{name}}}"));
        assert!(!introspects("{ tenant(slug: \"a\") { __typename name } }"));
        assert!(!introspects("{ apiVersion }"));
    }

    #[test]
    fn only_operator_tokens_get_the_operator_view() {
        assert_eq!(
            SchemaView::for_audience(Some(Audience::Operator)),
            SchemaView::Operator
        );
        assert_eq!(
            SchemaView::for_audience(Some(Audience::Portal)),
            SchemaView::Portal
        );
        assert_eq!(SchemaView::for_audience(None), SchemaView::Portal);
    }
}
