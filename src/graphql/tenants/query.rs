//! Tenant queries.

use async_graphql::{Context, Object};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::error::ApiResult;
use crate::graphql::tenants::types::Tenant;

/// Tenant queries.
#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// A tenant by slug. Operators see every tenant, members see theirs, partner staff see
    /// their partner's; any other tenant answers `NOT_FOUND`, like one that does not exist.
    async fn tenant(&self, ctx: &Context<'_>, slug: String) -> ApiResult<Tenant> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(Tenant(
            domain::tenants::visible_by_slug(&mut conn, &viewer, &slug).await?,
        ))
    }
}
