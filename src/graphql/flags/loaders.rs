//! Batched flag reads: one statement per key type per request.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::domain::flags::{self, rules::FlagDefinition};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded};

/// Every live (not archived) flag, parsed for evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveFlags;

/// Every tenant that is not terminated, as the flag evaluator sees it (for match counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllTenantFacts;

impl Loader<LiveFlags> for DbLoader {
    type Value = Arc<Vec<FlagDefinition>>;
    type Error = ApiError;

    async fn load(&self, keys: &[LiveFlags]) -> Loaded<LiveFlags, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = flags::live(&mut *self.conn().await?).await?;
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
        let facts = flags::tenant_facts(&mut *self.conn().await?).await?;
        Ok(HashMap::from([(AllTenantFacts, Arc::new(facts))]))
    }
}
