//! Upstream reads behind `Tenant.mfaStatus` and `Tenant.storage`: at most
//! `SECURITY_UPSTREAM_CONCURRENCY` calls in flight per process, each answer reused for
//! `SECURITY_CACHE_TTL_SECS`, and concurrent asks for the same key share one call. Failures
//! are not cached.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

use super::config::SecurityConfig;
use crate::upstream::authentik::AuthenticatorCount;
use crate::upstream::ocis::Quota;

type Slot<V> = Arc<OnceCell<(Instant, V)>>;

/// A cache whose entries expire, with single-flight loading per key.
struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, Slot<V>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    async fn get_or_load<E, F, Fut>(&self, key: &K, ttl: Duration, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = |slot: &Slot<V>| slot.get().is_none_or(|(at, _)| at.elapsed() < ttl);
            match entries.get(key) {
                Some(slot) if fresh(slot) => Arc::clone(slot),
                _ => {
                    // Drop what expired while here, so the map stays as small as what is live.
                    entries.retain(|_, slot| fresh(slot));
                    let slot = Arc::new(OnceCell::new());
                    entries.insert(key.clone(), Arc::clone(&slot));
                    slot
                }
            }
        };
        let (_, value) = slot
            .get_or_try_init(|| async { load().await.map(|v| (Instant::now(), v)) })
            .await?;
        Ok(value.clone())
    }
}

/// The process-wide upstream reads of the security area (schema data).
pub struct UpstreamReads {
    permits: Semaphore,
    ttl: Duration,
    authenticators: TtlCache<i64, Vec<AuthenticatorCount>>,
    spaces: TtlCache<String, Quota>,
}

impl UpstreamReads {
    /// From the settings.
    pub fn new(config: &SecurityConfig) -> Self {
        Self {
            permits: Semaphore::new(config.upstream_concurrency),
            ttl: config.cache_ttl,
            authenticators: TtlCache::new(),
            spaces: TtlCache::new(),
        }
    }

    /// Runs `call` once a permit is free (any per-row upstream read of a list may share the
    /// bound: billing's default-card read does).
    pub async fn bounded<T, Fut: Future<Output = T>>(&self, call: impl FnOnce() -> Fut) -> T {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        call().await
    }

    /// A user's authenticators by type (cached per user).
    pub async fn authenticators<E, Fut>(
        &self,
        user_pk: i64,
        call: impl FnOnce() -> Fut,
    ) -> Result<Vec<AuthenticatorCount>, E>
    where
        Fut: Future<Output = Result<Vec<AuthenticatorCount>, E>>,
    {
        self.authenticators
            .get_or_load(&user_pk, self.ttl, || self.bounded(call))
            .await
    }

    /// A space's quota (cached per space).
    pub async fn space<E, Fut>(
        &self,
        space_id: &str,
        call: impl FnOnce() -> Fut,
    ) -> Result<Quota, E>
    where
        Fut: Future<Output = Result<Quota, E>>,
    {
        self.spaces
            .get_or_load(&space_id.to_owned(), self.ttl, || self.bounded(call))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_asks_share_one_call_and_failures_are_not_kept() {
        let cache: TtlCache<i64, usize> = TtlCache::new();
        let calls = AtomicUsize::new(0);
        let load = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<usize, ()>(7)
        };
        let ttl = Duration::from_secs(60);
        let (a, b) = tokio::join!(
            cache.get_or_load(&1, ttl, load),
            cache.get_or_load(&1, ttl, load)
        );
        assert_eq!((a, b), (Ok(7), Ok(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache
                .get_or_load(&2, ttl, || async { Err::<usize, _>("down") })
                .await,
            Err("down")
        );
        assert_eq!(
            cache
                .get_or_load(&2, ttl, || async { Ok::<_, &str>(3) })
                .await,
            Ok(3)
        );
        // Expired entries are loaded again.
        assert_eq!(
            cache
                .get_or_load(&2, Duration::ZERO, || async { Ok::<_, &str>(4) })
                .await,
            Ok(4)
        );
    }
}
