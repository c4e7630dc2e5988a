//! Per-request loaders: one loader over the database, keyed by typed newtypes so two
//! lookups can never collide. Each key type costs one SQL statement per batch, whatever the
//! number of parents (nested pages use window functions, see `domain::*::pages_by_*`).
//!
//! Loaders are created for each HTTP request (and each WebSocket connection) and never cache:
//! they only batch (see [`Batcher`] for when a batch fires). Viewer scope is applied before a key is asked for (a parent the viewer
//! may not see never produces keys).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::db::DbPool;
use crate::db::models::{MemberRow, PartnerRow, SubscriptionRow, TenantRow};
use crate::domain;
use crate::domain::members::MemberKey;
use crate::domain::partners::MrrRow;
use crate::error::ApiError;
use crate::graphql::batch::Batcher;

/// The loaders of one request.
pub struct Loaders {
    /// The database loader.
    pub db: Batcher<DbLoader>,
}

impl Loaders {
    /// Fresh loaders for one request.
    pub fn new(pool: DbPool) -> Self {
        Self {
            db: Batcher::new(DbLoader { pool }),
        }
    }
}

/// Batches lookups into single statements.
pub struct DbLoader {
    pool: DbPool,
}

/// A partner by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartnerById(pub Uuid);

/// A tenant's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionOfTenant(pub Uuid);

/// How many non-terminated tenants a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CustomerCountOfPartner(pub Uuid);

/// How many tenants (any status) a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantCountOfPartner(pub Uuid);

/// How many members a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberCountOfTenant(pub Uuid);

/// A partner's monthly recurring revenue, per currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MrrOfPartner(pub Uuid);

/// One forward page of a partner's tenants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantsOfPartner {
    /// The partner.
    pub partner: Uuid,
    /// Slug to start after.
    pub after: Option<String>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

/// One forward page of a tenant's members.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MembersOfTenant {
    /// The tenant.
    pub tenant: Uuid,
    /// Sort key to start after.
    pub after: Option<MemberKey>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

type Loaded<K, V> = Result<HashMap<K, V>, ApiError>;

impl DbLoader {
    pub(crate) async fn conn(&self) -> Result<crate::db::DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}

impl Loader<PartnerById> for DbLoader {
    type Value = Arc<PartnerRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[PartnerById]) -> Loaded<PartnerById, Arc<PartnerRow>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::partners::by_ids(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (PartnerById(r.id), Arc::new(r)))
            .collect())
    }
}

impl Loader<SubscriptionOfTenant> for DbLoader {
    type Value = Arc<SubscriptionRow>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[SubscriptionOfTenant],
    ) -> Loaded<SubscriptionOfTenant, Arc<SubscriptionRow>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::subscriptions::by_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (SubscriptionOfTenant(r.tenant_id), Arc::new(r)))
            .collect())
    }
}

impl Loader<CustomerCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[CustomerCountOfPartner]) -> Loaded<CustomerCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let counts =
            domain::partners::customer_counts(&mut *self.conn().await?, &ids, true).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<TenantCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[TenantCountOfPartner]) -> Loaded<TenantCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let counts =
            domain::partners::customer_counts(&mut *self.conn().await?, &ids, false).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<MemberCountOfTenant> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[MemberCountOfTenant]) -> Loaded<MemberCountOfTenant, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let counts = domain::members::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<MrrOfPartner> for DbLoader {
    type Value = Arc<Vec<MrrRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[MrrOfPartner]) -> Loaded<MrrOfPartner, Arc<Vec<MrrRow>>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::partners::mrr(&mut *self.conn().await?, &ids).await?;
        let mut by_partner: HashMap<Uuid, Vec<MrrRow>> = HashMap::new();
        for row in rows {
            by_partner.entry(row.partner_id).or_default().push(row);
        }
        Ok(keys
            .iter()
            .map(|k| (*k, Arc::new(by_partner.remove(&k.0).unwrap_or_default())))
            .collect())
    }
}

impl Loader<TenantsOfPartner> for DbLoader {
    type Value = Arc<Vec<TenantRow>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[TenantsOfPartner],
    ) -> Loaded<TenantsOfPartner, Arc<Vec<TenantRow>>> {
        let mut out = HashMap::new();
        // One statement per distinct page shape (usually one).
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<Uuid> = group.iter().map(|k| k.partner).collect();
            let rows = domain::tenants::pages_by_partner(
                &mut *self.conn().await?,
                &ids,
                after.as_deref(),
                limit,
            )
            .await?;
            let mut by_partner: HashMap<Uuid, Vec<TenantRow>> = HashMap::new();
            for row in rows {
                if let Some(partner) = row.partner_id {
                    by_partner.entry(partner).or_default().push(row);
                }
            }
            for key in group {
                let rows = by_partner.remove(&key.partner).unwrap_or_default();
                out.insert(key, Arc::new(rows));
            }
        }
        Ok(out)
    }
}

impl Loader<MembersOfTenant> for DbLoader {
    type Value = Arc<Vec<MemberRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[MembersOfTenant]) -> Loaded<MembersOfTenant, Arc<Vec<MemberRow>>> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<Uuid> = group.iter().map(|k| k.tenant).collect();
            let rows = domain::members::pages_by_tenant(
                &mut *self.conn().await?,
                &ids,
                after.as_ref(),
                limit,
            )
            .await?;
            let mut by_tenant: HashMap<Uuid, Vec<MemberRow>> = HashMap::new();
            for row in rows {
                by_tenant.entry(row.tenant_id).or_default().push(row);
            }
            for key in group {
                let rows = by_tenant.remove(&key.tenant).unwrap_or_default();
                out.insert(key, Arc::new(rows));
            }
        }
        Ok(out)
    }
}

/// Groups keys that share page arguments.
fn group_by_page<K: Clone, P: Eq + std::hash::Hash>(
    keys: &[K],
    page: impl Fn(&K) -> P,
) -> HashMap<P, Vec<K>> {
    let mut groups: HashMap<P, Vec<K>> = HashMap::new();
    for key in keys {
        groups.entry(page(key)).or_default().push(key.clone());
    }
    groups
}

/// Counts for every key, zero where the query returned no row.
fn zero_filled<K: Copy + Eq + std::hash::Hash>(
    keys: &[K],
    counts: Vec<(Uuid, i64)>,
    id: impl Fn(&K) -> Uuid,
) -> HashMap<K, i64> {
    let counts: HashMap<Uuid, i64> = counts.into_iter().collect();
    keys.iter()
        .map(|k| (*k, counts.get(&id(k)).copied().unwrap_or(0)))
        .collect()
}

/// A tenant by id (callers check visibility with `Viewer::can_see_tenant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantById(pub Uuid);

/// A membership (with its user) by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberById(pub Uuid);

/// A user by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserById(pub Uuid);

impl Loader<TenantById> for DbLoader {
    type Value = Arc<TenantRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[TenantById]) -> Loaded<TenantById, Arc<TenantRow>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::tenants::by_ids(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (TenantById(r.id), Arc::new(r)))
            .collect())
    }
}

impl Loader<MemberById> for DbLoader {
    type Value = Arc<MemberRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[MemberById]) -> Loaded<MemberById, Arc<MemberRow>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::members::by_ids(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (MemberById(r.id), Arc::new(r)))
            .collect())
    }
}

impl Loader<UserById> for DbLoader {
    type Value = Arc<crate::db::models::UserRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[UserById]) -> Loaded<UserById, Arc<crate::db::models::UserRow>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = domain::users::by_ids(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (UserById(r.id), Arc::new(r)))
            .collect())
    }
}

/// Every live (not archived) flag, parsed for evaluation: one statement per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveFlags;

/// Every tenant that is not terminated, as the flag evaluator sees it (for match counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllTenantFacts;

impl Loader<LiveFlags> for DbLoader {
    type Value = Arc<Vec<crate::domain::flags::rules::FlagDefinition>>;
    type Error = ApiError;

    async fn load(&self, keys: &[LiveFlags]) -> Loaded<LiveFlags, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = domain::flags::store::live(&mut *self.conn().await?).await?;
        let flags = rows
            .iter()
            .map(|r| r.definition())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HashMap::from([(LiveFlags, Arc::new(flags))]))
    }
}

impl Loader<AllTenantFacts> for DbLoader {
    type Value = Arc<Vec<(Uuid, Option<Uuid>, String)>>;
    type Error = ApiError;

    async fn load(&self, keys: &[AllTenantFacts]) -> Loaded<AllTenantFacts, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let facts = domain::flags::store::tenant_facts(&mut *self.conn().await?).await?;
        Ok(HashMap::from([(AllTenantFacts, Arc::new(facts))]))
    }
}
