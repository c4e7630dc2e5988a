//! Batched billing reads: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::billing::{self, SubscriptionRow};
use crate::domain::ids::TenantId;
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded};

/// A tenant's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionOfTenant(pub TenantId);

impl Loader<SubscriptionOfTenant> for DbLoader {
    type Value = Arc<SubscriptionRow>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[SubscriptionOfTenant],
    ) -> Loaded<SubscriptionOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows = billing::by_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (SubscriptionOfTenant(r.tenant_id), Arc::new(r)))
            .collect())
    }
}
