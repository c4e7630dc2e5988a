//! Tenant queries.

use async_graphql::{Context, InputObject, Object};

use std::sync::Arc;

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::domain::partners::PartnerRow;
use crate::domain::tenants::TenantFilter;
use crate::error::{ApiResult, AppError};
use crate::graphql::context::loaders;
use crate::graphql::loaders::ById;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::tenants::types::{Tenant, TenantConnection, TenantStatus, TenantsCount};

/// The longest `search` accepted.
pub const MAX_SEARCH: usize = 200;

/// Narrows the `tenants` list.
#[derive(InputObject, Default)]
pub struct TenantFilterInput {
    /// Only tenants in this state.
    pub status: Option<TenantStatus>,
    /// Only tenants of the partner with this slug.
    pub partner: Option<String>,
    /// Case-insensitive part of the name or slug.
    pub search: Option<String>,
}

impl TenantFilterInput {
    fn into_domain(self) -> Result<TenantFilter, AppError> {
        Ok(TenantFilter {
            status: self.status,
            partner_slug: self.partner,
            search: search(self.search)?,
        })
    }
}

/// A trimmed, bounded search term (`None` when empty).
pub fn search(raw: Option<String>) -> Result<Option<String>, AppError> {
    let Some(term) = raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if term.chars().count() > MAX_SEARCH {
        return Err(AppError::bad_input(
            "filter.search",
            format!("at most {MAX_SEARCH} characters"),
        ));
    }
    Ok(Some(term))
}

/// Tenant queries.
#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// A tenant by slug. Operators see every tenant, members see theirs, partner staff see
    /// their partner's; any other tenant is `null` with a `NOT_FOUND` error, like one that
    /// does not exist.
    async fn tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] slug: String,
    ) -> ApiResult<Option<Tenant>> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let (row, exempt) =
            domain::tenants::visible_by_slug_noting_exemption(&mut conn, &viewer, &slug).await?;
        if let Some(reason) = exempt {
            let actor = crate::graphql::context::actor(ctx, &viewer);
            domain::security::changes::audit_exempt_access(&mut conn, &actor, &row, &reason)
                .await?;
        }
        Ok(Some(Tenant(row)))
    }

    /// The tenants the caller may see, by slug: operators all, partner staff their partners',
    /// members theirs.
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<TenantFilterInput>,
        #[graphql(desc = "Page size going forward (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size going backward (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> ApiResult<TenantConnection> {
        let page = PageRequest::<String>::parse(
            first,
            after,
            last,
            before,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let filter = filter.unwrap_or_default().into_domain()?;
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let look = ctx.look_ahead();
        let wants_partner = look.field("nodes").field("partner").exists()
            || look.field("edges").field("node").field("partner").exists();
        let rows = if wants_partner {
            // The partners come with the page (one statement, not two).
            let rows =
                domain::tenants::page_with_partners(&mut conn, &viewer, &filter, &page).await?;
            let mut tenants = Vec::with_capacity(rows.len());
            let mut partners = Vec::new();
            for (tenant, partner) in rows {
                partners.extend(partner.map(|p| (ById::<PartnerRow>(p.id), Arc::new(p))));
                tenants.push(tenant);
            }
            loaders(ctx).db.prime(partners);
            tenants
        } else {
            domain::tenants::page(&mut conn, &viewer, &filter, &page).await?
        };
        let tenants = rows.into_iter().map(Tenant).collect();
        Ok(page
            .connection_with(tenants, TenantsCount::Visible(filter), Tenant::key)
            .into())
    }
}
