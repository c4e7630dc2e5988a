//! Batched tenant reads keyed by partner: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::tenants::{self, TenantRow};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped, zero_filled};

/// One forward page of a partner's tenants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantsOfPartner {
    /// The partner.
    pub partner: PartnerId,
    /// Slug to start after.
    pub after: Option<String>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

/// How many tenants (any status) a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantCountOfPartner(pub PartnerId);

/// How many non-terminated tenants (customers) a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomerCountOfPartner(pub PartnerId);

impl Loader<TenantsOfPartner> for DbLoader {
    type Value = Arc<Vec<TenantRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[TenantsOfPartner]) -> Loaded<TenantsOfPartner, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<PartnerId> = group.iter().map(|k| k.partner).collect();
            let rows =
                tenants::pages_by_partner(&mut *self.conn().await?, &ids, after.as_deref(), limit)
                    .await?;
            out.extend(grouped(&group, rows, |r| r.partner_id, |k| Some(k.partner)));
        }
        Ok(out)
    }
}

impl Loader<TenantCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[TenantCountOfPartner]) -> Loaded<TenantCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<PartnerId> = keys.iter().map(|k| k.0).collect();
        let counts = tenants::counts_by_partner(&mut *self.conn().await?, &ids, false).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<CustomerCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[CustomerCountOfPartner]) -> Loaded<CustomerCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<PartnerId> = keys.iter().map(|k| k.0).collect();
        let counts = tenants::counts_by_partner(&mut *self.conn().await?, &ids, true).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

/// A tenant's profile (industry, brand colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileOfTenant(pub TenantId);

impl Loader<ProfileOfTenant> for DbLoader {
    type Value = crate::domain::tenants::profile::ProfileRow;
    type Error = ApiError;

    async fn load(&self, keys: &[ProfileOfTenant]) -> Loaded<ProfileOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows =
            crate::domain::tenants::profile::by_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|(id, row)| (ProfileOfTenant(id), row))
            .collect())
    }
}
