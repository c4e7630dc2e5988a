//! A batching loader driven by the scheduler, not by a clock.
//!
//! async-graphql's `DataLoader` fires a fixed delay (1 ms by default) after the first key.
//! Resolvers of a long list register their keys over several scheduler turns (futures'
//! `FuturesUnordered` yields every 32 polls), so a wall-clock delay can split one logical batch
//! in two, and how many SQL statements a request sends would depend on timing.
//!
//! [`Batcher`] instead waits until a full scheduler round has passed without a new key for that
//! key type, then loads everything pending in one call. There is no sleep, so no added
//! latency either. It implements async-graphql's [`Loader`] contract, and never caches: a
//! loader only batches.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::Loader;
use tokio::sync::oneshot;

type Waiter<V, E> = oneshot::Sender<Result<Option<V>, E>>;

struct Pending<K, V, E> {
    waiters: Vec<(K, Waiter<V, E>)>,
}

/// Batches `load_one` calls per key type into single `Loader::load` calls.
pub struct Batcher<L> {
    loader: Arc<L>,
    pending: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send>>>>,
}

/// Most scheduler rounds a batch waits for stragglers.
const MAX_ROUNDS: usize = 64;

impl<L: Send + Sync + 'static> Batcher<L> {
    /// A batcher over `loader`.
    pub fn new(loader: L) -> Self {
        Self {
            loader: Arc::new(loader),
            pending: Arc::default(),
        }
    }

    /// Loads one key, batched with every other key of its type requested meanwhile.
    pub async fn load_one<K>(&self, key: K) -> Result<Option<L::Value>, L::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let entry = map.entry(TypeId::of::<K>()).or_insert_with(|| {
                Box::new(Pending::<K, L::Value, L::Error> {
                    waiters: Vec::new(),
                })
            });
            let pending = entry
                .downcast_mut::<Pending<K, L::Value, L::Error>>()
                .expect("one type per TypeId");
            pending.waiters.push((key, tx));
            pending.waiters.len() == 1
        };
        if first {
            let loader = Arc::clone(&self.loader);
            let map = Arc::clone(&self.pending);
            tokio::spawn(async move {
                settle::<K, L::Value, L::Error>(&map).await;
                let waiters = take::<K, L::Value, L::Error>(&map);
                let mut keys: Vec<K> = waiters.iter().map(|(k, _)| k.clone()).collect();
                dedup(&mut keys);
                let result = loader.load(&keys).await;
                for (key, waiter) in waiters {
                    let _ = waiter.send(match &result {
                        Ok(values) => Ok(values.get(&key).cloned()),
                        Err(e) => Err(e.clone()),
                    });
                }
            });
        }
        rx.await.expect("the batch task answers every waiter")
    }
}

fn len<K: 'static, V: 'static, E: 'static>(
    map: &Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
) -> usize {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(&TypeId::of::<K>())
        .and_then(|e| e.downcast_ref::<Pending<K, V, E>>())
        .map_or(0, |p| p.waiters.len())
}

fn take<K: 'static, V: 'static, E: 'static>(
    map: &Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
) -> Vec<(K, Waiter<V, E>)> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get_mut(&TypeId::of::<K>())
        .and_then(|e| e.downcast_mut::<Pending<K, V, E>>())
        .map(|p| std::mem::take(&mut p.waiters))
        .unwrap_or_default()
}

/// Yields until a scheduler round adds no key of this type (bounded).
async fn settle<K: 'static, V: 'static, E: 'static>(
    map: &Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
) {
    let mut last = len::<K, V, E>(map);
    for _ in 0..MAX_ROUNDS {
        tokio::task::yield_now().await;
        let now = len::<K, V, E>(map);
        if now == last {
            return;
        }
        last = now;
    }
}

fn dedup<K: Hash + Eq + Clone>(keys: &mut Vec<K>) {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.retain(|k| seen.insert(k.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Doubler(AtomicUsize);

    impl Loader<u32> for Doubler {
        type Value = u64;
        type Error = String;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u64>, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(keys
                .iter()
                .filter(|k| **k != 7)
                .map(|k| (*k, u64::from(*k) * 2))
                .collect())
        }
    }

    #[tokio::test]
    async fn a_long_list_is_one_batch() {
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        // 500 concurrent lookups, polled in chunks by `join_all` (as async-graphql lists are).
        let results =
            futures_util::future::join_all((0..500u32).map(|k| batcher.load_one(k % 250))).await;
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 1, "one load call");
        assert_eq!(results[3], Ok(Some(6)));
        assert_eq!(
            results[7],
            Ok(None),
            "a key the loader did not return is None"
        );
        assert_eq!(results[253], Ok(Some(6)), "duplicates share the answer");
    }

    #[tokio::test]
    async fn later_rounds_make_new_batches() {
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        assert_eq!(batcher.load_one(1).await, Ok(Some(2)));
        assert_eq!(batcher.load_one(2).await, Ok(Some(4)));
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 2);
    }
}
