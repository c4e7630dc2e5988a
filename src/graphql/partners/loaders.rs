//! Batched partner reads: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::domain::ids::PartnerId;
use crate::domain::partners::{self, MrrRow};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, grouped};

/// A partner's monthly recurring revenue, per currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MrrOfPartner(pub PartnerId);

impl Loader<MrrOfPartner> for DbLoader {
    type Value = Arc<Vec<MrrRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[MrrOfPartner]) -> Loaded<MrrOfPartner, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<PartnerId> = keys.iter().map(|k| k.0).collect();
        let rows = partners::mrr(&mut *self.conn().await?, &ids).await?;
        Ok(grouped(keys, rows, |r| r.partner_id, |k| k.0))
    }
}
