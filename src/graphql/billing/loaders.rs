//! Batched billing reads: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::billing::invoices::{self, InvoiceRow};
use crate::domain::billing::plans::{self, PlanRow, PriceRow};
use crate::domain::billing::{self, SubscriptionRow};
use crate::domain::ids::TenantId;
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped, zero_filled};

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

/// A plan by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanByKey(pub String);

impl Loader<PlanByKey> for DbLoader {
    type Value = Arc<PlanRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[PlanByKey]) -> Loaded<PlanByKey, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = plans::by_keys(&mut *self.conn().await?, &keys).await?;
        Ok(rows
            .into_iter()
            .map(|r| (PlanByKey(r.key.clone()), Arc::new(r)))
            .collect())
    }
}

/// The prices of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PricesOfPlan(pub String);

impl Loader<PricesOfPlan> for DbLoader {
    type Value = Arc<Vec<PriceRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[PricesOfPlan]) -> Loaded<PricesOfPlan, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = plans::prices_of(&mut *self.conn().await?, &keys).await?;
        let mut by_plan: HashMap<PricesOfPlan, Vec<PriceRow>> = keys
            .into_iter()
            .map(|k| (PricesOfPlan(k), Vec::new()))
            .collect();
        for row in rows {
            if let Some(list) = by_plan.get_mut(&PricesOfPlan(row.plan_key.clone())) {
                list.push(row);
            }
        }
        Ok(by_plan.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// The active members of a tenant (the seats it uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeatsUsedOfTenant(pub TenantId);

impl Loader<SeatsUsedOfTenant> for DbLoader {
    type Value = i32;
    type Error = ApiError;

    async fn load(&self, keys: &[SeatsUsedOfTenant]) -> Loaded<SeatsUsedOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let counts = billing::subscription::seats_used_of(&mut *self.conn().await?, &ids).await?;
        Ok(counts
            .into_iter()
            .map(|(id, n)| (SeatsUsedOfTenant(id), n))
            .collect())
    }
}

/// One forward page of a tenant's invoices (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoicesOfTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// The Stripe id of the invoice to start after.
    pub after: Option<String>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

impl Loader<InvoicesOfTenant> for DbLoader {
    type Value = Arc<Vec<InvoiceRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[InvoicesOfTenant]) -> Loaded<InvoicesOfTenant, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<TenantId> = group.iter().map(|k| k.tenant).collect();
            let rows =
                invoices::pages_by_tenant(&mut *self.conn().await?, &ids, after.as_deref(), limit)
                    .await?;
            out.extend(grouped(&group, rows, |r| r.tenant_id, |k| k.tenant));
        }
        Ok(out)
    }
}

/// How many invoices a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvoiceCountOfTenant(pub TenantId);

impl Loader<InvoiceCountOfTenant> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[InvoiceCountOfTenant]) -> Loaded<InvoiceCountOfTenant, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let counts = invoices::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}
