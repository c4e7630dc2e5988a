//! Batched session reads: one statement for every tenant of a page.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use std::sync::Arc;

use crate::domain::ids::TenantId;
use crate::domain::impersonation::{self, TenantSessionRow};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped};

/// The newest `limit` sessions concerning a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionsOfTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// How many.
    pub limit: usize,
}

impl Loader<SessionsOfTenant> for DbLoader {
    type Value = Arc<Vec<TenantSessionRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[SessionsOfTenant]) -> Loaded<SessionsOfTenant, Self::Value> {
        let mut out = HashMap::new();
        for (limit, group) in group_by_page(keys, |k| k.limit) {
            let ids: Vec<TenantId> = group.iter().map(|k| k.tenant).collect();
            let rows =
                impersonation::newest_by_tenants(&mut *self.conn().await?, &ids, limit).await?;
            out.extend(grouped(&group, rows, |r| r.listed_for, |k| k.tenant));
        }
        Ok(out)
    }
}
