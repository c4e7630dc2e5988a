//! `extensions.cost` on every operation's response, for operator tokens and in development
//! (as GitHub's `rateLimit` and Shopify's `extensions.cost` do):
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
//! Portal tokens and anonymous callers outside development do not see it (the weights are an
//! operator's tuning knob, not a public contract).

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::{Response, ServerError, ValidationResult, Value};

use crate::auth::context::AuthServices;
use crate::auth::{Audience, AuthContext};

/// Factory for the cost report.
pub struct CostReport {
    /// `GRAPHQL_MAX_COMPLEXITY`.
    pub limit: usize,
    /// Shown to everyone (development), not only to operator tokens.
    pub everyone: bool,
}

impl ExtensionFactory for CostReport {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostReportExtension {
            limit: self.limit,
            everyone: self.everyone,
            requested: Mutex::new(None),
        })
    }
}

struct CostReportExtension {
    limit: usize,
    everyone: bool,
    requested: Mutex<Option<usize>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CostReportExtension {
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
        if !self.everyone && !is_operator(ctx).await {
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
