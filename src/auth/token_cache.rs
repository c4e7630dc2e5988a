//! The verified-token cache: a bearer token that passed [`TokenVerifier`] is not verified again
//! on the next request (the signature check is the costliest step of an authenticated
//! request). What the token grants is still read from the database on every request: only
//! "this token is genuine and current" is remembered.
//!
//! - Keyed by the SHA-256 of the token, never the token itself.
//! - Bounded: `AUTH_TOKEN_CACHE_CAPACITY` entries (least recently used go first); `0` turns
//!   the cache off.
//! - Never past `exp`: an entry expires at the token's `exp`, and every hit checks `exp`
//!   against the wall clock again (a token accepted only thanks to the leeway is verified
//!   each time).
//! - Dropped on key rotation: an entry remembers the key generation it was verified under
//!   (a fetch of an issuer's keys that withdraws or replaces a key, on an unknown `kid` or
//!   the periodic refresh, starts a new one) and is not used under another, so a token
//!   whose key was withdrawn is verified again, and refused.
//! - Only successes are cached: a refused token is verified, and refused, every time.
//!
//! [`TokenVerifier`]: crate::auth::TokenVerifier

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::auth::claims::VerifiedToken;

/// The SHA-256 of a token.
pub type TokenHash = [u8; 32];

#[derive(Clone)]
struct Entry {
    token: Arc<VerifiedToken>,
    generation: u64,
}

/// Each entry lives until its token's `exp`.
struct UntilExp;

impl moka::Expiry<TokenHash, Entry> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &TokenHash,
        value: &Entry,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(
            value.token.claims.exp.saturating_sub(now_secs()),
        ))
    }
}

/// Verified tokens by hash (see the module documentation).
pub struct TokenCache {
    entries: Option<moka::sync::Cache<TokenHash, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (none at all for 0).
    pub fn new(capacity: u64) -> Self {
        let entries = (capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExp)
                .build()
        });
        Self {
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The hash a token is kept under.
    pub fn hash(raw: &str) -> TokenHash {
        let mut key = [0u8; 32];
        key.copy_from_slice(&Sha256::digest(raw.as_bytes()));
        key
    }

    /// The token verified under key `generation`, if it is cached and its `exp` is ahead.
    pub fn get(&self, key: &TokenHash, generation: u64) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.as_ref()?;
        let found = entries
            .get(key)
            .filter(|e| e.generation == generation && e.token.claims.exp > now_secs());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(|e| e.token)
    }

    /// Remembers `token`, verified under key `generation` (read before verifying, so a key
    /// change during the verification leaves the entry unused).
    pub fn insert(&self, key: TokenHash, token: Arc<VerifiedToken>, generation: u64) {
        if let Some(entries) = &self.entries
            && token.claims.exp > now_secs()
        {
            entries.insert(key, Entry { token, generation });
        }
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Entries held (approximate: evictions are applied lazily).
    pub fn len(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| {
            e.run_pending_tasks();
            e.entry_count()
        })
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::claims::{Audience, Claims, OneOrMany};

    fn token(sub: &str, exp: u64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            claims: Claims {
                sub: sub.into(),
                iss: "https://issuer.test/".into(),
                aud: OneOrMany::One("dezky-portal".into()),
                exp,
                email: None,
                name: None,
                preferred_username: None,
                groups: None,
                act: None,
                sid: None,
            },
            audience: Audience::Portal,
            impersonation: None,
        })
    }

    #[test]
    fn a_cached_token_is_found_under_its_hash_and_generation_only() {
        let cache = TokenCache::new(10);
        let key = TokenCache::hash("a.b.c");
        assert_ne!(key, TokenCache::hash("a.b.d"));
        cache.insert(key, token("alice", now_secs() + 60), 1);
        assert_eq!(cache.get(&key, 1).unwrap().claims.sub, "alice");
        assert!(cache.get(&TokenCache::hash("a.b.d"), 1).is_none());
        assert!(cache.get(&key, 2).is_none(), "another key generation");
        assert_eq!(cache.stats(), (1, 2));
    }

    #[test]
    fn never_past_exp() {
        let cache = TokenCache::new(10);
        let past = TokenCache::hash("past");
        cache.insert(past, token("late", now_secs().saturating_sub(5)), 1);
        assert!(
            cache.get(&past, 1).is_none(),
            "an expired token is not kept"
        );
        let soon = TokenCache::hash("soon");
        cache.insert(soon, token("soon", now_secs() + 1), 1);
        assert!(cache.get(&soon, 1).is_some());
        std::thread::sleep(Duration::from_millis(2_100));
        assert!(cache.get(&soon, 1).is_none(), "gone once exp has passed");
    }

    #[test]
    fn bounded() {
        let cache = TokenCache::new(50);
        for n in 0..500 {
            cache.insert(
                TokenCache::hash(&n.to_string()),
                token(&n.to_string(), now_secs() + 600),
                1,
            );
        }
        assert!(cache.len() <= 50, "{} entries", cache.len());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = TokenCache::new(0);
        let key = TokenCache::hash("t");
        cache.insert(key, token("t", now_secs() + 60), 1);
        assert!(cache.get(&key, 1).is_none());
        assert!(cache.is_empty());
    }
}
