//! Batched staff reads: one statement per key type per batch, whatever the number of partners.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::ids::PartnerId;
use crate::domain::partners::staff::{self, StaffRow};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped, zero_filled};

/// One forward page of a partner's staff (by e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StaffOfPartner {
    /// The partner.
    pub partner: PartnerId,
    /// Sort key to start after.
    pub after: Option<String>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

/// How many staff a partner has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaffCountOfPartner(pub PartnerId);

impl Loader<StaffOfPartner> for DbLoader {
    type Value = Arc<Vec<StaffRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[StaffOfPartner]) -> Loaded<StaffOfPartner, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<PartnerId> = group.iter().map(|k| k.partner).collect();
            let rows =
                staff::pages_by_partner(&mut *self.conn().await?, &ids, after.as_deref(), limit)
                    .await?;
            out.extend(grouped(&group, rows, |r| r.partner_id, |k| k.partner));
        }
        Ok(out)
    }
}

impl Loader<StaffCountOfPartner> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[StaffCountOfPartner]) -> Loaded<StaffCountOfPartner, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<PartnerId> = keys.iter().map(|k| k.0).collect();
        let counts = staff::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}
