//! Signing keys of the trusted issuers, fetched through OIDC discovery and cached.
//!
//! - A key in the cache verifies at once, however stale the cache and whether or not the
//!   issuer is reachable; a stale cache is refreshed in the background.
//! - An unknown `kid` causes at most one fetch per cooldown, single-flight across
//!   concurrent requests: the others wait for the fetch in flight, then look again.
//! - Only RS256 and ES256 keys are kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::config::AuthConfig;

/// A verification key.
pub struct SigningKey {
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// Why no key could be found.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The issuer is not configured.
    #[error("issuer {0:?} is not trusted")]
    UnknownIssuer(String),
    /// The issuer has no such key (after at most one refetch per cooldown).
    #[error("no key {kid:?} at issuer {issuer:?}")]
    UnknownKid {
        /// The issuer.
        issuer: String,
        /// The key id.
        kid: String,
    },
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, Arc<SigningKey>>,
    /// Each key's JWK as fetched, to tell a withdrawn or replaced key from an added one.
    fingerprints: HashMap<String, String>,
    jwks_uri: Option<String>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

struct IssuerKeys {
    issuer: String,
    /// Bumped whenever a fetch withdraws or replaces a key this issuer had.
    generation: AtomicU64,
    state: RwLock<KeyState>,
    refresh: tokio::sync::Mutex<()>,
}

/// The key cache of all trusted issuers.
pub struct KeyStore {
    http: reqwest::Client,
    issuers: HashMap<String, Arc<IssuerKeys>>,
    max_age: Duration,
    cooldown: Duration,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyStore {
    /// A store for `issuers` (nothing is fetched until a token needs a key).
    pub fn new(issuers: &[String], config: &AuthConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .connect_timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .expect("a reqwest client with static settings builds");
        let issuers = issuers
            .iter()
            .map(|i| {
                let keys = IssuerKeys {
                    issuer: i.clone(),
                    generation: AtomicU64::new(0),
                    state: RwLock::default(),
                    refresh: tokio::sync::Mutex::new(()),
                };
                (i.clone(), Arc::new(keys))
            })
            .collect();
        Self {
            http,
            issuers,
            max_age: config.jwks_max_age,
            cooldown: config.jwks_refetch_cooldown,
        }
    }

    /// The key generation: changes whenever a fetch (for an unknown `kid`, or the periodic
    /// refresh) withdraws or replaces a key any issuer had. Verified tokens are cached per
    /// generation; a key that is only added invalidates nothing.
    pub fn generation(&self) -> u64 {
        self.issuers
            .values()
            .map(|i| i.generation.load(Ordering::Acquire))
            .fold(0, u64::wrapping_add)
    }

    /// Whether `issuer` is trusted.
    pub fn trusts(&self, issuer: &str) -> bool {
        self.issuers.contains_key(issuer)
    }

    /// The key `kid` of `issuer`.
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Arc<SigningKey>, KeyError> {
        let entry = self
            .issuers
            .get(issuer)
            .ok_or_else(|| KeyError::UnknownIssuer(issuer.into()))?;
        let (cached, stale) = {
            let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
            let stale = state.fetched_at.is_none_or(|t| t.elapsed() > self.max_age);
            (state.keys.get(kid).cloned(), stale)
        };
        if let Some(key) = cached {
            if stale && !self.in_cooldown(entry) {
                self.refresh_in_background(Arc::clone(entry));
            }
            return Ok(key);
        }
        // Wait for a fetch in flight (the first requests after start all land here), then
        // fetch ourselves only if nobody did within the cooldown.
        let _flight = entry.refresh.lock().await;
        if self.cached(entry, kid).is_none() && !self.in_cooldown(entry) {
            fetch(&self.http, entry).await;
        }
        let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| KeyError::UnknownKid {
                issuer: issuer.into(),
                kid: kid.into(),
            })
    }

    /// Starts a background refresh of `issuer`'s keys when they are stale (as a key lookup
    /// would): a token found in the verified-token cache looks up no key, and the refresh is
    /// how a withdrawn key is noticed.
    pub fn refresh_if_stale(&self, issuer: &str) {
        let Some(entry) = self.issuers.get(issuer) else {
            return;
        };
        let stale = {
            let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
            state.fetched_at.is_none_or(|t| t.elapsed() > self.max_age)
        };
        if stale && !self.in_cooldown(entry) {
            self.refresh_in_background(Arc::clone(entry));
        }
    }

    fn cached(&self, entry: &IssuerKeys, kid: &str) -> Option<Arc<SigningKey>> {
        entry
            .state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .get(kid)
            .cloned()
    }

    fn in_cooldown(&self, entry: &IssuerKeys) -> bool {
        let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .attempted_at
            .is_some_and(|t| t.elapsed() < self.cooldown)
    }

    fn refresh_in_background(&self, entry: Arc<IssuerKeys>) {
        let http = self.http.clone();
        tokio::spawn(async move {
            if let Ok(_flight) = entry.refresh.try_lock() {
                fetch(&http, &entry).await;
            }
        });
    }
}

/// Fetches the issuer's keys; on failure the cached keys stay in use.
async fn fetch(http: &reqwest::Client, entry: &IssuerKeys) {
    let jwks_uri = {
        let mut state = entry.state.write().unwrap_or_else(|p| p.into_inner());
        state.attempted_at = Some(Instant::now());
        state.jwks_uri.clone()
    };
    let result = async {
        let jwks_uri = match jwks_uri {
            Some(uri) => uri,
            None => discover(http, &entry.issuer).await?,
        };
        let set: JwkSet = http
            .get(&jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok::<_, anyhow::Error>((jwks_uri, set))
    }
    .await;
    match result {
        Ok((jwks_uri, set)) => {
            let keys: HashMap<String, Arc<SigningKey>> =
                set.keys.iter().filter_map(signing_key).collect();
            let fingerprints: HashMap<String, String> = set
                .keys
                .iter()
                .filter_map(|k| {
                    let kid = k.common.key_id.clone()?;
                    keys.contains_key(&kid)
                        .then(|| (kid, serde_json::to_string(k).unwrap_or_default()))
                })
                .collect();
            tracing::info!(issuer = %entry.issuer, keys = keys.len(), "fetched signing keys");
            let mut state = entry.state.write().unwrap_or_else(|p| p.into_inner());
            let withdrawn = state
                .fingerprints
                .iter()
                .any(|(kid, old)| fingerprints.get(kid) != Some(old));
            state.keys = keys;
            state.fingerprints = fingerprints;
            state.jwks_uri = Some(jwks_uri);
            state.fetched_at = Some(Instant::now());
            if withdrawn {
                // Tokens verified with a key that is gone (or changed) must be verified again.
                entry.generation.fetch_add(1, Ordering::Release);
            }
        }
        Err(e) => {
            tracing::warn!(issuer = %entry.issuer, error = %format!("{e:#}"), "cannot fetch signing keys; cached keys stay in use");
        }
    }
}

/// `jwks_uri` from the issuer's discovery document, whose `issuer` must match exactly.
async fn discover(http: &reqwest::Client, issuer: &str) -> anyhow::Result<String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Discovery = http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(
        doc.issuer == issuer,
        "discovery at {url} names issuer {:?}",
        doc.issuer
    );
    Ok(doc.jwks_uri)
}

/// An RS256 or ES256 (P-256) key with a `kid`; anything else is skipped.
fn signing_key(jwk: &Jwk) -> Option<(String, Arc<SigningKey>)> {
    let kid = jwk.common.key_id.clone()?;
    let inferred = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => inferred,
        Some(KeyAlgorithm::RS256) if inferred == Algorithm::RS256 => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) if inferred == Algorithm::ES256 => Algorithm::ES256,
        Some(_) => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, Arc::new(SigningKey { alg, key })))
}
