//! A batching loader driven by the scheduler, not by a clock.
//!
//! async-graphql's `DataLoader` fires a fixed delay (1 ms by default) after the first key.
//! Resolvers of a long list register their keys over several scheduler turns (futures'
//! `FuturesUnordered` yields every 32 polls), so a wall-clock delay can split one logical batch
//! in two, and how many SQL statements a request sends would depend on timing.
//!
//! [`Batcher`] instead lets the first caller of a batch (the leader) wait, inside the request's
//! own task, until a poll of that task has added no new key of that type, then loads
//! everything pending in one call. The sibling resolvers that register keys are polled by the
//! same task between the leader's yields, so the batch does not depend on thread timing (a
//! batch gathered by a separately spawned task, on another worker thread, would fire whenever
//! the OS paused the request's thread between two keys). There is no sleep, so no added
//! latency either. It implements async-graphql's [`Loader`] contract, and never caches: a
//! loader only batches. If a leader is dropped before it answers, its waiters elect a new one.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::Loader;
use tokio::sync::oneshot;

type Waiter<V, E> = oneshot::Sender<Result<Option<V>, E>>;
type PendingMap = Mutex<HashMap<TypeId, Box<dyn Any + Send>>>;
type Types<K, V, E> = PhantomData<fn() -> (K, V, E)>;

struct Pending<K, V, E> {
    waiters: Vec<(K, Waiter<V, E>)>,
    /// A `load_one` call is gathering this batch.
    leading: bool,
}

/// Batches `load_one` calls per key type into single `Loader::load` calls.
pub struct Batcher<L> {
    loader: Arc<L>,
    pending: Arc<PendingMap>,
    /// Values a parent already read in its own statement (`HashMap<K, V>` per key type).
    primed: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

/// Most scheduler rounds a batch waits for stragglers.
const MAX_ROUNDS: usize = 64;

impl<L: Send + Sync + 'static> Batcher<L> {
    /// A batcher over `loader`.
    pub fn new(loader: L) -> Self {
        Self {
            loader: Arc::new(loader),
            pending: Arc::default(),
            primed: Mutex::default(),
        }
    }

    /// Answers later `load_one` calls for these keys without a load: for rows a parent read
    /// in its own statement (e.g. a page of tenants joined with their partners). Only what
    /// this request read is primed, so nothing outlives the request.
    pub fn prime<K>(&self, entries: impl IntoIterator<Item = (K, L::Value)>)
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        let mut primed = self.primed.lock().unwrap_or_else(|p| p.into_inner());
        let map = primed
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(HashMap::<K, L::Value>::new()))
            .downcast_mut::<HashMap<K, L::Value>>()
            .expect("one type per TypeId");
        map.extend(entries);
    }

    fn primed<K>(&self, key: &K) -> Option<L::Value>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        let primed = self.primed.lock().unwrap_or_else(|p| p.into_inner());
        primed
            .get(&TypeId::of::<K>())?
            .downcast_ref::<HashMap<K, L::Value>>()?
            .get(key)
            .cloned()
    }

    /// Loads one key, batched with every other key of its type requested meanwhile.
    pub async fn load_one<K>(&self, key: K) -> Result<Option<L::Value>, L::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        if let Some(value) = self.primed(&key) {
            return Ok(Some(value));
        }
        loop {
            let (tx, rx) = oneshot::channel();
            if register::<K, L::Value, L::Error>(&self.pending, key.clone(), tx) {
                let leader = Leader::<K, L::Value, L::Error> {
                    map: &self.pending,
                    done: false,
                    types: PhantomData,
                };
                settle::<K, L::Value, L::Error>(&self.pending).await;
                let waiters = leader.take();
                let mut keys: Vec<K> = waiters.iter().map(|(k, _)| k.clone()).collect();
                dedup(&mut keys);
                let result = self.loader.load(&keys).await;
                for (key, waiter) in waiters {
                    let _ = waiter.send(match &result {
                        Ok(values) => Ok(values.get(&key).cloned()),
                        Err(e) => Err(e.clone()),
                    });
                }
            }
            match rx.await {
                Ok(result) => return result,
                // The leader was dropped before answering: register again.
                Err(_) => continue,
            }
        }
    }
}

/// Adds a waiter; true when the caller must lead the batch.
fn register<K: Send + 'static, V: Send + 'static, E: Send + 'static>(
    map: &PendingMap,
    key: K,
    waiter: Waiter<V, E>,
) -> bool {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    let entry = map.entry(TypeId::of::<K>()).or_insert_with(|| {
        Box::new(Pending::<K, V, E> {
            waiters: Vec::new(),
            leading: false,
        })
    });
    let pending = entry
        .downcast_mut::<Pending<K, V, E>>()
        .expect("one type per TypeId");
    pending.waiters.push((key, waiter));
    !std::mem::replace(&mut pending.leading, true)
}

/// The leader's claim on a batch: taking the waiters ends it; dropping it before that drops
/// the waiters (they register again and elect a new leader).
struct Leader<'a, K: 'static, V: 'static, E: 'static> {
    map: &'a PendingMap,
    done: bool,
    types: Types<K, V, E>,
}

impl<K: 'static, V: 'static, E: 'static> Leader<'_, K, V, E> {
    fn take(mut self) -> Vec<(K, Waiter<V, E>)> {
        self.done = true;
        take::<K, V, E>(self.map)
    }
}

impl<K: 'static, V: 'static, E: 'static> Drop for Leader<'_, K, V, E> {
    fn drop(&mut self) {
        if !self.done {
            drop(take::<K, V, E>(self.map));
        }
    }
}

fn len<K: 'static, V: 'static, E: 'static>(map: &PendingMap) -> usize {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(&TypeId::of::<K>())
        .and_then(|e| e.downcast_ref::<Pending<K, V, E>>())
        .map_or(0, |p| p.waiters.len())
}

/// Ends the current batch: its waiters, and no leader until the next key.
fn take<K: 'static, V: 'static, E: 'static>(map: &PendingMap) -> Vec<(K, Waiter<V, E>)> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get_mut(&TypeId::of::<K>())
        .and_then(|e| e.downcast_mut::<Pending<K, V, E>>())
        .map(|p| {
            p.leading = false;
            std::mem::take(&mut p.waiters)
        })
        .unwrap_or_default()
}

/// Yields until a poll of the calling task adds no key of this type (bounded).
async fn settle<K: 'static, V: 'static, E: 'static>(map: &PendingMap) {
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
    async fn primed_keys_need_no_load() {
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        batcher.prime([(3u32, 100u64), (4, 200)]);
        assert_eq!(batcher.load_one(3u32).await, Ok(Some(100)));
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 0, "no load");
        assert_eq!(batcher.load_one(5u32).await, Ok(Some(10)));
        assert_eq!(
            batcher.loader.0.load(Ordering::SeqCst),
            1,
            "unprimed keys load"
        );
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_siblings_in_one_task_are_one_batch() {
        // Each sibling works a while before asking for its key (as resolvers do). A batch
        // gathered on another worker thread would fire in such a gap; the leader, polled by
        // the same task as its siblings, cannot.
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        let results = futures_util::future::join_all((0..40u32).map(|k| {
            let batcher = &batcher;
            async move {
                std::thread::sleep(std::time::Duration::from_micros(300));
                batcher.load_one(k).await
            }
        }))
        .await;
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 1, "one load call");
        assert_eq!(results[39], Ok(Some(78)));
    }

    #[tokio::test]
    async fn a_dropped_leader_hands_the_batch_over() {
        use futures_util::FutureExt as _;
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        let mut leader = Box::pin(batcher.load_one(1u32));
        let mut follower = Box::pin(batcher.load_one(2u32));
        assert!((&mut leader).now_or_never().is_none(), "the leader settles");
        assert!(
            (&mut follower).now_or_never().is_none(),
            "the follower waits"
        );
        drop(leader);
        assert_eq!(follower.await, Ok(Some(4)));
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 1);
        assert_eq!(batcher.load_one(3u32).await, Ok(Some(6)), "batches go on");
    }

    #[tokio::test]
    async fn later_rounds_make_new_batches() {
        let batcher = Batcher::new(Doubler(AtomicUsize::new(0)));
        assert_eq!(batcher.load_one(1).await, Ok(Some(2)));
        assert_eq!(batcher.load_one(2).await, Ok(Some(4)));
        assert_eq!(batcher.loader.0.load(Ordering::SeqCst), 2);
    }
}
