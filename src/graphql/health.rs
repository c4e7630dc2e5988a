//! `Tenant.health`: the tenant health rules (`crate::domain::health::rules`) in the graph,
//! batched per request (one loader batch for any number of tenants).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::health::{self, Band, TenantHealth};
use crate::domain::ids::TenantId;
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded};

/// The health of a tenant, by its id (the caller checks access first).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HealthOfTenant(pub TenantId);

impl Loader<HealthOfTenant> for DbLoader {
    type Value = Arc<TenantHealth>;
    type Error = ApiError;

    async fn load(&self, keys: &[HealthOfTenant]) -> Loaded<HealthOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let all = health::for_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(all
            .into_iter()
            .map(|(id, h)| (HealthOfTenant(id), Arc::new(h)))
            .collect())
    }
}

/// A tenant's health (see the `#[Object]` block).
pub struct Health(pub Arc<TenantHealth>);

/// How a tenant is doing: a score from 100 down, by documented rules over its status, its
/// subscription and invoices, steps in error, its domains, its seats and (when known) MFA
/// coverage. The rules and weights are listed in the README ("Tenant health").
#[Object(name = "TenantHealth")]
impl Health {
    /// 0–100: 100 minus the weights of the reasons (never below 0).
    async fn score(&self) -> i32 {
        self.0.health.score
    }

    /// `HEALTHY` (80–100), `AT_RISK` (50–79) or `CRITICAL` (0–49).
    async fn band(&self) -> Band {
        self.0.health.band
    }

    /// What took points off, heaviest first (empty when healthy at 100).
    async fn reasons(&self) -> Vec<HealthReason> {
        self.0
            .health
            .reasons
            .iter()
            .map(|r| HealthReason {
                code: r.code.to_owned(),
                message: r.message.clone(),
                weight: r.weight,
            })
            .collect()
    }

    /// When the state it was computed from was read.
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
}

/// One rule that took points off a tenant's health.
#[derive(SimpleObject)]
pub struct HealthReason {
    /// Stable code, e.g. `DOMAINS_FAILING` (the README lists them).
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    /// Points taken off the score.
    pub weight: i32,
}
