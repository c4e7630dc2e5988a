//! `extensions.cost` on each operation's response (as GitHub's `rateLimit` and Shopify's
//! `extensions.cost` do) when the request asks for it with `"extensions": {"cost": true}` (so
//! responses stay byte-for-byte what the GraphQL specification shows unless someone asks),
//! for operator tokens, and in development for any caller:
//!
//! ```json
//! "extensions": { "cost": { "requested": 42, "limit": 1000, "actual": 3 } }
//! ```
//!
//! - `requested`: the operation's complexity as validated (field weights: `totalCount` 10,
//!   `me` 5 plus its selection, other fields 1), checked against
//! - `limit`: `GRAPHQL_MAX_COMPLEXITY`;
//! - `actual`: the SQL statements the operation really sent.
//!
//! Portal tokens and anonymous callers outside development never see it (the weights are an
//! operator's tuning knob, not a public contract).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextValidation,
};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Value};

use crate::auth::context::AuthServices;
use crate::auth::{Audience, AuthContext};

/// Factory for the cost report.
pub struct CostReport {
    /// `GRAPHQL_MAX_COMPLEXITY`.
    pub limit: usize,
    /// Shown to any caller who asks (development), not only to operator tokens.
    pub anyone: bool,
}

impl ExtensionFactory for CostReport {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostReportExtension {
            limit: self.limit,
            anyone: self.anyone,
            requested: Mutex::new(None),
            asked: AtomicBool::new(false),
        })
    }
}

struct CostReportExtension {
    limit: usize,
    anyone: bool,
    requested: Mutex<Option<usize>>,
    /// The request carried `extensions.cost = true`.
    asked: AtomicBool,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CostReportExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let asked = matches!(request.extensions.get("cost"), Some(Value::Boolean(true)));
        self.asked.store(asked, Ordering::Relaxed);
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        *self.requested.lock().unwrap_or_else(|p| p.into_inner()) = Some(result.complexity);
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let (response, actual) = crate::db::inflight::counting(next.run(ctx, operation_name)).await;
        let requested = *self.requested.lock().unwrap_or_else(|p| p.into_inner());
        let Some(requested) = requested else {
            return response;
        };
        if !self.asked.load(Ordering::Relaxed) || !(self.anyone || is_operator(ctx).await) {
            return response;
        }
        response.extension(
            "cost",
            async_graphql::value!({
                "requested": requested,
                "limit": self.limit,
                "actual": Value::from(actual),
            }),
        )
    }
}

async fn is_operator(ctx: &ExtensionContext<'_>) -> bool {
    let (Some(auth), Some(services)) = (
        ctx.data_opt::<Arc<AuthContext>>(),
        ctx.data_opt::<Arc<AuthServices>>(),
    ) else {
        return false;
    };
    matches!(
        auth.token(services).await.map(|t| t.audience),
        Ok(Audience::Operator)
    )
}
