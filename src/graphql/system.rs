//! Facts about the running service.

use async_graphql::{Context, Object, SimpleObject};

use crate::config::{AppEnv, Config};
use crate::db::{DbPool, migrate};
use crate::error::ApiResult;
use crate::graphql::context::Operator;

/// Queries about the service itself.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The version of this API server (its crate version).
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The newest database migration applied (e.g. `20261123000001`); lets a client or an
    /// operator see which schema revision the server runs against.
    async fn schema_version(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let pool = ctx.data_unchecked::<DbPool>();
        let mut conn = pool.get().await?;
        Ok(migrate::current_version(&mut conn).await?)
    }

    /// How this server is configured and what it runs against (operators only).
    #[graphql(
        guard = "Operator",
        visible = "crate::graphql::audience::operator_only"
    )]
    async fn system_status(&self, ctx: &Context<'_>) -> ApiResult<SystemStatus> {
        let config = ctx.data_unchecked::<std::sync::Arc<Config>>();
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(SystemStatus {
            api_version: env!("CARGO_PKG_VERSION"),
            schema_version: migrate::current_version(&mut conn).await?,
            environment: match config.app_env {
                AppEnv::Development => "development",
                AppEnv::Production => "production",
            },
            development_issuer: config.auth.uses_dev_issuer(),
        })
    }
}

/// The state of the running server, for operators.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SystemStatus {
    /// The API server version.
    pub api_version: &'static str,
    /// The newest database migration applied.
    pub schema_version: Option<String>,
    /// `development` or `production`.
    pub environment: &'static str,
    /// Whether the server trusts its own development tokens (never in production).
    pub development_issuer: bool,
}
