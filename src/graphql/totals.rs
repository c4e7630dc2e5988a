//! `totalCount` of a connection, computed only when the client selects it (one statement for
//! a top-level list, one batched statement for nested lists).

use std::sync::Arc;

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::DbPool;
use crate::domain;
use crate::domain::partners::PartnerFilter;
use crate::domain::tenants::TenantFilter;
use crate::error::ApiResult;
use crate::graphql::loaders::{Loaders, MemberCountOfTenant, TenantCountOfPartner};

/// What a connection counts.
pub enum Total {
    /// The tenants the viewer may see that match a filter.
    Tenants(Arc<Viewer>, TenantFilter),
    /// The partners the viewer may see that match a filter.
    Partners(Arc<Viewer>, PartnerFilter),
    /// A partner's tenants.
    TenantsOfPartner(Uuid),
    /// A tenant's members.
    MembersOfTenant(Uuid),
    /// Feature flags (archived ones when true).
    Flags(bool),
}

#[Object]
impl Total {
    /// How many items the whole list holds (ignoring pagination).
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        self.count(ctx).await
    }
}

impl Total {
    /// The number of items in the whole list.
    pub async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(match self {
            Self::Tenants(viewer, filter) => {
                let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
                domain::tenants::count(&mut conn, viewer, filter).await?
            }
            Self::Partners(viewer, filter) => {
                let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
                domain::partners::count(&mut conn, viewer, filter).await?
            }
            Self::Flags(include_archived) => {
                let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
                domain::flags::store::count(&mut conn, *include_archived).await?
            }
            Self::TenantsOfPartner(id) => loaders
                .db
                .load_one(TenantCountOfPartner(*id))
                .await?
                .unwrap_or(0),
            Self::MembersOfTenant(id) => loaders
                .db
                .load_one(MemberCountOfTenant(*id))
                .await?
                .unwrap_or(0),
        })
    }
}
