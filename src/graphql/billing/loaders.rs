//! Batched billing reads: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use chrono::{DateTime, Utc};

use crate::domain::billing::details::{self, BillingDetailsRow};
use crate::domain::billing::invoices::{self, InvoiceRow};
use crate::domain::billing::payouts::{self, EntryRow, SummaryRow};
use crate::domain::billing::plans::{self, PlanRow, PriceRow};
use crate::domain::billing::{self, SubscriptionRow};
use crate::domain::ids::{PartnerId, TenantId};
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

/// One forward page of a partner's ledger entries (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PayoutsOfPartner {
    /// The partner.
    pub partner: PartnerId,
    /// The entry to start after.
    pub after: Option<i64>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

impl Loader<PayoutsOfPartner> for DbLoader {
    type Value = Arc<Vec<EntryRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[PayoutsOfPartner]) -> Loaded<PayoutsOfPartner, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after, k.limit)) {
            let ids: Vec<PartnerId> = group.iter().map(|k| k.partner).collect();
            let rows =
                payouts::pages_by_partner(&mut *self.conn().await?, &ids, after, limit).await?;
            out.extend(grouped(&group, rows, |r| r.partner_id, |k| Some(k.partner)));
        }
        Ok(out)
    }
}

/// How many ledger entries a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayoutCountOfPartner(pub PartnerId);

impl Loader<PayoutCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[PayoutCountOfPartner]) -> Loaded<PayoutCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<PartnerId> = keys.iter().map(|k| k.0).collect();
        let counts = payouts::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

/// A partner's billing summary over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SummaryOfPartner {
    /// The partner.
    pub partner: PartnerId,
    /// Start, included.
    pub from: DateTime<Utc>,
    /// End, excluded.
    pub to: DateTime<Utc>,
}

impl Loader<SummaryOfPartner> for DbLoader {
    type Value = Arc<Vec<SummaryRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[SummaryOfPartner]) -> Loaded<SummaryOfPartner, Self::Value> {
        let mut out = HashMap::new();
        for ((from, to), group) in group_by_page(keys, |k| (k.from, k.to)) {
            let ids: Vec<PartnerId> = group.iter().map(|k| k.partner).collect();
            let rows = payouts::summaries(&mut *self.conn().await?, Some(&ids), from, to).await?;
            out.extend(grouped(&group, rows, |r| r.partner_id, |k| Some(k.partner)));
        }
        Ok(out)
    }
}

/// A tenant's billing details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DetailsOfTenant(pub TenantId);

impl Loader<DetailsOfTenant> for DbLoader {
    type Value = Arc<BillingDetailsRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[DetailsOfTenant]) -> Loaded<DetailsOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows = details::by_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (DetailsOfTenant(r.tenant_id), Arc::new(r)))
            .collect())
    }
}
