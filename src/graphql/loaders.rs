//! Per-request loaders: one loader over the database ([`DbLoader`]), keyed by typed newtypes
//! so two lookups can never collide. Each key type costs one SQL statement per batch, whatever
//! the number of parents.
//!
//! Areas register their own key types next to their types (`graphql/<area>/loaders.rs`, as
//! `impl Loader<Key> for DbLoader`); rows read by id need no code at all: [`ById`] loads any
//! [`ByIds`] row.
//!
//! Loaders are created for each HTTP request (and each WebSocket connection) and never cache:
//! they only batch (see [`Batcher`] for when a batch fires). Viewer scope is applied before a
//! key is asked for (a parent the viewer may not see never produces keys), or carried in the
//! key.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::db::DbPool;
use crate::domain::ids::ByIds;
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

/// What a loader returns for a batch of keys.
pub type Loaded<K, V> = Result<HashMap<K, V>, ApiError>;

impl DbLoader {
    /// A pooled connection for one batch.
    pub(crate) async fn conn(&self) -> Result<crate::db::DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}

/// A row of type `R` by its id (unscoped: the caller applies the access policy).
pub struct ById<R: ByIds>(pub R::Id);

impl<R: ByIds> Clone for ById<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R: ByIds> Copy for ById<R> {}
impl<R: ByIds> PartialEq for ById<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<R: ByIds> Eq for ById<R> {}
impl<R: ByIds> Hash for ById<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<R: ByIds> Loader<ById<R>> for DbLoader {
    type Value = Arc<R>;
    type Error = ApiError;

    async fn load(&self, keys: &[ById<R>]) -> Loaded<ById<R>, Arc<R>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<R::Id> = keys.iter().map(|k| k.0).collect();
        let rows = R::by_ids(&mut *self.conn().await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| (ById(r.id()), Arc::new(r)))
            .collect())
    }
}

/// Groups keys that share page arguments (one statement per distinct page shape).
pub fn group_by_page<K: Clone, P: Eq + Hash>(
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
pub fn zero_filled<K: Copy + Eq + Hash, I: Eq + Hash>(
    keys: &[K],
    counts: Vec<(I, i64)>,
    id: impl Fn(&K) -> I,
) -> HashMap<K, i64> {
    let counts: HashMap<I, i64> = counts.into_iter().collect();
    keys.iter()
        .map(|k| (*k, counts.get(&id(k)).copied().unwrap_or(0)))
        .collect()
}

/// Rows grouped under each key, an empty list where none came back.
pub fn grouped<K: Clone + Eq + Hash, I: Eq + Hash, R>(
    keys: &[K],
    rows: Vec<R>,
    row_id: impl Fn(&R) -> I,
    key_id: impl Fn(&K) -> I,
) -> HashMap<K, Arc<Vec<R>>> {
    let mut by_id: HashMap<I, Vec<R>> = HashMap::new();
    for row in rows {
        by_id.entry(row_id(&row)).or_default().push(row);
    }
    keys.iter()
        .map(|k| {
            (
                k.clone(),
                Arc::new(by_id.remove(&key_id(k)).unwrap_or_default()),
            )
        })
        .collect()
}
