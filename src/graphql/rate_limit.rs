//! Applies the request rate limits ([`crate::http::limits::rate`]) to every operation,
//! over HTTP and WebSocket, before it executes.
//!
//! The caller is the verified token's user (the verification is the request's own, cached
//! for its resolvers), or else the client IP. Mutations also count against the stricter
//! mutation limit. A refused operation gets `RATE_LIMITED` with
//! `extensions.retryAfterSeconds`; an HTTP request whose operations were all refused is
//! answered 429 with `Retry-After`.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Pos, Request, ServerError, ServerResult};

use crate::auth::AuthContext;
use crate::auth::context::AuthServices;
use crate::error::{ApiError, AppError};
use crate::graphql::viewer::ClientIp;
use crate::http::limits::rate::{Caller, RateLimits, retry_after_secs};

/// Factory for the rate-limit extension.
pub struct RateLimit(pub Arc<RateLimits>);

impl ExtensionFactory for RateLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RateLimitExtension(Arc::clone(&self.0)))
    }
}

struct RateLimitExtension(Arc<RateLimits>);

fn request_data<T: 'static>(request: &Request) -> Option<&T> {
    request
        .data
        .get(&TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
}

#[async_graphql::async_trait::async_trait]
impl Extension for RateLimitExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mutation = is_mutation(&mut request);
        let caller = caller(ctx, &request).await;
        if let Some(caller) = caller
            && let Err(wait) = self.0.check(&caller, mutation)
        {
            return Err(refuse(retry_after_secs(wait)));
        }
        next.run(ctx, request).await
    }
}

/// Whether the operation to run is a mutation (unknown when the document does not parse;
/// the request then fails without running anything).
fn is_mutation(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => op.node.ty == OperationType::Mutation,
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .any(|(n, op)| n.as_str() == name && op.node.ty == OperationType::Mutation),
        (DocumentOperations::Multiple(ops), None) => ops
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation),
    }
}

/// The verified user, else the client address (`None` when neither is known, e.g. a
/// request built in-process).
async fn caller(ctx: &ExtensionContext<'_>, request: &Request) -> Option<Caller> {
    if let (Some(auth), Some(services)) = (
        request_data::<Arc<AuthContext>>(request),
        ctx.data_opt::<Arc<AuthServices>>(),
    ) && let Ok(token) = auth.token(services).await
    {
        return Some(Caller::User(format!(
            "{}|{}",
            token.claims.iss, token.claims.sub
        )));
    }
    let ip = request_data::<ClientIp>(request)?;
    ip.0.parse().ok().map(Caller::Ip)
}

fn refuse(retry_after_secs: u64) -> ServerError {
    let mut error = async_graphql::Error::from(ApiError::from(AppError::RateLimited {
        retry_after_secs: Some(retry_after_secs),
    }))
    .into_server_error(Pos::default());
    error.locations.clear();
    error
}
