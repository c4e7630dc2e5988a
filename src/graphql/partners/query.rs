//! Partner queries.

use async_graphql::{Context, InputObject, Object};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::domain::partners::PartnerFilter;
use crate::error::ApiResult;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::partners::types::{Partner, PartnerConnection, PartnerStatus, PartnersCount};
use crate::graphql::tenants::query::search;

/// Narrows the `partners` list.
#[derive(InputObject, Default)]
pub struct PartnerFilterInput {
    /// Only partners in this state.
    pub status: Option<PartnerStatus>,
    /// Case-insensitive part of the name, slug or domain.
    pub search: Option<String>,
}

/// Partner queries.
#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// A partner by slug. Operators see every partner, partner staff their own, and the
    /// members of its tenants who it is (not its commercial details); any other partner is
    /// `null` with a `NOT_FOUND` error, like one that does not exist.
    async fn partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] slug: String,
    ) -> ApiResult<Option<Partner>> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(Some(Partner(
            domain::partners::visible_by_slug(&mut conn, &viewer, &slug).await?,
        )))
    }

    /// The partners the caller may see, by slug: operators all, partner staff their own,
    /// tenant members their tenants' partners.
    async fn partners(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<PartnerFilterInput>,
        #[graphql(desc = "Page size going forward (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size going backward (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> ApiResult<PartnerConnection> {
        let page = PageRequest::<String>::parse(
            first,
            after,
            last,
            before,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let filter = filter.unwrap_or_default();
        let filter = PartnerFilter {
            status: filter.status,
            search: search(filter.search)?,
        };
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = domain::partners::page(&mut conn, &viewer, &filter, &page).await?;
        let partners = rows.into_iter().map(Partner).collect();
        Ok(page
            .connection_with(partners, PartnersCount(filter), |p: &Partner| {
                p.0.slug.clone()
            })
            .into())
    }
}
