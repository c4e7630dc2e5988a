//! Batched reads of provisioning state: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::ids::TenantId;
use crate::domain::provisioning::{EventRow, StepRow, state};
use crate::error::ApiError;
use crate::graphql::loaders::DbLoader;

/// A tenant's provisioning steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepsOfTenant(pub TenantId);

/// A tenant's newest events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecentEventsOfTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// How many.
    pub limit: i32,
}

impl Loader<StepsOfTenant> for DbLoader {
    type Value = Arc<Vec<Arc<StepRow>>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[StepsOfTenant],
    ) -> Result<HashMap<StepsOfTenant, Self::Value>, ApiError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows = state::steps_of(&mut *self.conn().await?, &ids).await?;
        let mut by_tenant: HashMap<TenantId, Vec<Arc<StepRow>>> = HashMap::new();
        for row in rows {
            by_tenant
                .entry(row.tenant_id)
                .or_default()
                .push(Arc::new(row));
        }
        Ok(keys
            .iter()
            .map(|k| {
                let mut steps = by_tenant.remove(&k.0).unwrap_or_default();
                steps.sort_by_key(|s| s.step);
                (*k, Arc::new(steps))
            })
            .collect())
    }
}

impl Loader<RecentEventsOfTenant> for DbLoader {
    type Value = Arc<Vec<Arc<EventRow>>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[RecentEventsOfTenant],
    ) -> Result<HashMap<RecentEventsOfTenant, Self::Value>, ApiError> {
        let mut out = HashMap::new();
        // One statement per distinct page size (in practice, one).
        let mut by_limit: HashMap<i32, Vec<TenantId>> = HashMap::new();
        for key in keys {
            by_limit.entry(key.limit).or_default().push(key.tenant);
        }
        for (limit, ids) in by_limit {
            let rows = state::recent_events(&mut *self.conn().await?, &ids, limit.into()).await?;
            let mut by_tenant: HashMap<TenantId, Vec<Arc<EventRow>>> = HashMap::new();
            for row in rows {
                by_tenant
                    .entry(row.tenant_id)
                    .or_default()
                    .push(Arc::new(row));
            }
            for tenant in ids {
                out.insert(
                    RecentEventsOfTenant { tenant, limit },
                    Arc::new(by_tenant.remove(&tenant).unwrap_or_default()),
                );
            }
        }
        Ok(out)
    }
}
