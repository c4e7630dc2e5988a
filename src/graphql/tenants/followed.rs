//! What every subscription on a tenant checks before it streams: a resume cursor that is
//! not negative, and a tenant the caller may see (like `tenant(slug)`).

use async_graphql::Context;

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::domain::tenants::TenantRow;
use crate::error::{ApiError, AppError};

/// Rejects a negative resume cursor (`afterId`, `afterSeq`) as bad input on `field`.
pub fn cursor_not_negative(field: &'static str, value: i64) -> async_graphql::Result<()> {
    if value < 0 {
        return Err(ApiError::from(AppError::bad_input(field, "must not be negative")).into());
    }
    Ok(())
}

/// The tenant `slug` if the caller may see it (else `NOT_FOUND`), and the pool its stream
/// reads with.
pub async fn visible_tenant(
    ctx: &Context<'_>,
    slug: &str,
) -> async_graphql::Result<(DbPool, TenantRow)> {
    let viewer = ctx.viewer().await?;
    let pool = ctx.data_unchecked::<DbPool>().clone();
    let tenant = {
        let mut conn = pool.get().await.map_err(ApiError::from)?;
        domain::tenants::visible_by_slug(&mut conn, &viewer, slug)
            .await
            .map_err(ApiError::from)?
    };
    Ok((pool, tenant))
}
