//! Facts about the running service.

use async_graphql::{Context, Object};

use crate::db::{DbPool, migrate};
use crate::error::ApiResult;

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
}
