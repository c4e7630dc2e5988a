//! Batched domain reads: one statement per key type per batch, whatever the number of
//! tenants.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::auth::Scope;
use crate::domain::domains::{self, DomainRow};
use crate::domain::ids::{DomainId, TenantId};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped, zero_filled};

/// One forward page of a tenant's domains (by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainsOfTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// Name to start after.
    pub after: Option<String>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

/// How many domains a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainCountOfTenant(pub TenantId);

/// How many of a tenant's domains need attention (not `VERIFIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainsNeedingAttention(pub TenantId);

/// A domain by id, if the scope may see it (the scope travels in the key: the visibility
/// filter is applied in SQL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisibleDomain {
    /// The caller's scope.
    pub scope: Arc<Scope>,
    /// The domain.
    pub id: DomainId,
}

impl Loader<DomainsOfTenant> for DbLoader {
    type Value = Arc<Vec<DomainRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[DomainsOfTenant]) -> Loaded<DomainsOfTenant, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<TenantId> = group.iter().map(|k| k.tenant).collect();
            let rows =
                domains::pages_by_tenant(&mut *self.conn().await?, &ids, after.as_deref(), limit)
                    .await?;
            out.extend(grouped(&group, rows, |r| r.tenant_id, |k| k.tenant));
        }
        Ok(out)
    }
}

impl Loader<DomainCountOfTenant> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[DomainCountOfTenant]) -> Loaded<DomainCountOfTenant, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let counts = domains::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<DomainsNeedingAttention> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[DomainsNeedingAttention]) -> Loaded<DomainsNeedingAttention, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let counts = domains::needing_attention(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<VisibleDomain> for DbLoader {
    type Value = Arc<DomainRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[VisibleDomain]) -> Loaded<VisibleDomain, Self::Value> {
        let mut out = HashMap::new();
        for (scope, group) in group_by_page(keys, |k| Arc::clone(&k.scope)) {
            let ids: Vec<DomainId> = group.iter().map(|k| k.id).collect();
            let rows = domains::visible(&mut *self.conn().await?, &scope, &ids).await?;
            for row in rows {
                let key = VisibleDomain {
                    scope: Arc::clone(&scope),
                    id: row.id,
                };
                out.insert(key, Arc::new(row));
            }
        }
        Ok(out)
    }
}
