//! Feature flag queries (operators).

use async_graphql::{Context, Object};

use crate::db::DbPool;
use crate::domain::flags as store;
use crate::error::{ApiResult, AppError};
use crate::graphql::context::Operator;
use crate::graphql::flags::types::{FeatureFlag, FeatureFlagConnection, FlagsCount};
use crate::graphql::pagination::{PageLimits, PageRequest};

/// Feature flag queries.
#[derive(Default)]
pub struct FlagQuery;

#[Object]
impl FlagQuery {
    /// Every feature flag by key (operators). Archived flags only when asked.
    #[graphql(
        guard = "Operator",
        visible = "crate::graphql::audience::operator_only"
    )]
    async fn feature_flags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include archived flags.", default = false)] include_archived: bool,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> ApiResult<FeatureFlagConnection> {
        let page = PageRequest::<String>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = store::page(
            &mut conn,
            page.cursor.as_deref(),
            page.limit,
            include_archived,
        )
        .await?;
        let flags = rows.into_iter().map(FeatureFlag).collect();
        Ok(page
            .connection_with(flags, FlagsCount(include_archived), |f: &FeatureFlag| {
                f.0.key.clone()
            })
            .into())
    }

    /// A feature flag by key, archived or not (operators); an unknown key is `null` with a
    /// `NOT_FOUND` error.
    #[graphql(
        guard = "Operator",
        visible = "crate::graphql::audience::operator_only"
    )]
    async fn feature_flag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The flag's key.")] key: String,
    ) -> ApiResult<Option<FeatureFlag>> {
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let row = store::by_key(&mut conn, &key)
            .await?
            .ok_or(AppError::NotFound {
                what: "feature flag",
            })?;
        Ok(Some(FeatureFlag(row)))
    }
}
