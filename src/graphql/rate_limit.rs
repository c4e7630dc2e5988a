//! Applies the request rate limits ([`crate::http::limits::rate`]) to every operation,
//! over HTTP and WebSocket, before it executes.
//!
//! The caller is the verified token's user (the verification is the request's own, cached
//! for its resolvers), or else the client IP. Mutations also count against the stricter
//! mutation limit. After validation, an operation counts once more per
//! `RATE_LIMIT_COST_UNIT` of complexity above the first (a 1000-point query weighs ten cheap
//! ones). A refused operation gets `RATE_LIMITED` with
//! `extensions.retryAfterSeconds`; an HTTP request whose operations were all refused is
//! answered 429 with `Retry-After`.

use std::any::TypeId;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Pos, Request, ServerError, ServerResult, ValidationResult};

use crate::auth::AuthContext;
use crate::auth::context::AuthServices;
use crate::error::{ApiError, AppError};
use crate::graphql::viewer::ClientIp;
use crate::http::limits::rate::{Caller, RateLimits, extra_for_cost, retry_after_secs};

/// Factory for the rate-limit extension.
pub struct RateLimit {
    /// The process's limiters.
    pub limits: Arc<RateLimits>,
    /// `RATE_LIMIT_COST_UNIT`.
    pub cost_unit: u32,
}

impl ExtensionFactory for RateLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RateLimitExtension {
            limits: Arc::clone(&self.limits),
            cost_unit: self.cost_unit,
            caller: Mutex::new(None),
        })
    }
}

struct RateLimitExtension {
    limits: Arc<RateLimits>,
    cost_unit: u32,
    /// Who the operation was counted against (for the cost charge after validation).
    caller: Mutex<Option<Caller>>,
}

fn request_data<T: 'static>(request: &Request) -> Option<&T> {
    request
        .data
        .get(&TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
}

#[async_graphql::async_trait::async_trait]
impl Extension for RateLimitExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mutation = is_mutation(&mut request);
        let caller = caller(ctx, &request).await;
        if let Some(caller) = &caller
            && let Err(wait) = self.limits.check(caller, mutation)
        {
            return Err(refuse(retry_after_secs(wait)));
        }
        *self.caller.lock().unwrap_or_else(|p| p.into_inner()) = caller;
        next.run(ctx, request).await
    }

    /// After validation the operation's complexity is known: an expensive one is charged
    /// more before it runs.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let extra = extra_for_cost(result.complexity, self.cost_unit);
        let caller = self
            .caller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(caller) = caller
            && let Err(wait) = self.limits.charge(&caller, extra)
        {
            return Err(vec![refuse(retry_after_secs(wait))]);
        }
        Ok(result)
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
