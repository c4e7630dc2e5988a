//! Partner queries.

use async_graphql::{Context, Object};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::error::ApiResult;
use crate::graphql::partners::types::Partner;

/// Partner queries.
#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// A partner by slug. Operators see every partner, partner staff see their own; any other
    /// partner answers `NOT_FOUND`, like one that does not exist.
    async fn partner(&self, ctx: &Context<'_>, slug: String) -> ApiResult<Partner> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(Partner(
            domain::partners::visible_by_slug(&mut conn, &viewer, &slug).await?,
        ))
    }
}
