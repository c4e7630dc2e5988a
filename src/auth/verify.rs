//! Bearer-token verification.
//!
//! Accepted: RS256/ES256 only (never `none`, never HS*), a `kid` naming a key of a trusted
//! issuer, `exp`, `iss`, `aud` and `sub` present, `exp`/`nbf` checked with the configured
//! leeway (≤ 60 s), `aud` among the accepted audiences. `jku`/`x5u` are ignored; a `crit`
//! header is refused, since no extension is understood (RFC 7515 §4.1.11). Any
//! failure is reported to the client as `UNAUTHENTICATED`; the reason is only logged.
//!
//! Impersonation tokens (`iss` = [`impersonation::ISSUER`]) are verified with this server's
//! own impersonation keys only, must carry `act` and `sid`, and must be for the portal
//! audience. A token of any other issuer that carries `act` is refused: acting for someone
//! else is only ever granted here, by a session this server keeps.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use std::sync::Arc;

use crate::auth::claims::{Audience, Claims, VerifiedToken};
use crate::auth::impersonation::{self, ImpersonationKeys};
use crate::auth::jwks::{KeyError, KeyStore};
use crate::auth::token_cache::TokenCache;
use crate::config::AuthConfig;

/// Why a token was refused (logged, never shown to the client).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT, or its header cannot be read (this includes `alg: none`).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A signature algorithm outside RS256/ES256.
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(Algorithm),
    /// No `kid` in the header.
    #[error("the token names no key (kid)")]
    MissingKid,
    /// The key's algorithm differs from the header's.
    #[error("the key for this token is not an {0:?} key")]
    AlgorithmMismatch(Algorithm),
    /// A `crit` header names extensions, and this verifier understands none (RFC 7515
    /// §4.1.11: the token must then be rejected).
    #[error("the token names critical extensions {0:?}, which are not understood")]
    CriticalExtension(Vec<String>),
    /// Key lookup failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signature, lifetime, issuer, audience or required claims failed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// An `act` claim on a token this server did not sign as an impersonation token, or an
    /// impersonation token that does not hold together.
    #[error("impersonation refused: {0}")]
    Impersonation(String),
}

/// Verifies bearer tokens against the trusted issuers.
pub struct TokenVerifier {
    keys: KeyStore,
    audiences: Vec<String>,
    operator_audience: String,
    portal_audience: String,
    leeway_secs: u64,
    impersonation: Option<Arc<ImpersonationKeys>>,
    cache: TokenCache,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

impl TokenVerifier {
    /// A verifier trusting `issuers` (the configured ones, or the development issuer).
    pub fn new(issuers: &[String], config: &AuthConfig) -> Self {
        Self {
            keys: KeyStore::new(issuers, config),
            audiences: config.audiences.clone(),
            operator_audience: config.operator_audience.clone(),
            portal_audience: config.portal_audience.clone(),
            leeway_secs: config.leeway.as_secs(),
            impersonation: None,
            cache: TokenCache::new(config.token_cache_capacity),
        }
    }

    /// Also trusts this server's impersonation keys (for impersonation tokens only).
    pub fn with_impersonation(mut self, keys: Arc<ImpersonationKeys>) -> Self {
        self.impersonation = Some(keys);
        self
    }

    /// Verifies `token` (without the `Bearer ` prefix), or finds it verified in the
    /// [`TokenCache`] under the current keys.
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, AuthError> {
        let key = TokenCache::hash(token);
        let generation = self.keys.generation();
        if let Some(verified) = self.cache.get(&key, generation) {
            self.keys.refresh_if_stale(&verified.claims.iss);
            return Ok(verified);
        }
        let verified = Arc::new(self.verify_uncached(token).await?);
        self.cache.insert(key, Arc::clone(&verified), generation);
        Ok(verified)
    }

    /// The verified-token cache (its figures, for tests and metrics).
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Verifies `token` from scratch.
    async fn verify_uncached(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::AlgorithmNotAllowed(header.alg));
        }
        if let Some(crit) = header.crit {
            return Err(AuthError::CriticalExtension(crit));
        }
        let kid = header.kid.ok_or(AuthError::MissingKid)?;
        let issuer = unverified_issuer(token)?;
        if issuer == impersonation::ISSUER {
            return self.verify_impersonation(token, header.alg, &kid).await;
        }
        if !self.keys.trusts(&issuer) {
            return Err(KeyError::UnknownIssuer(issuer).into());
        }
        let key = self.keys.key(&issuer, &kid).await?;
        if key.alg != header.alg {
            return Err(AuthError::AlgorithmMismatch(header.alg));
        }
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(AuthError::Invalid("empty sub".into()));
        }
        if claims.act.is_some() || claims.sid.is_some() {
            return Err(AuthError::Impersonation(format!(
                "issuer {issuer:?} may not issue impersonation (act/sid) tokens"
            )));
        }
        let audience = if claims.aud.contains(&self.operator_audience) {
            Audience::Operator
        } else {
            Audience::Portal
        };
        Ok(VerifiedToken {
            claims,
            audience,
            impersonation: None,
        })
    }

    /// An impersonation token: our key, ES256, the portal audience, `act` and `sid`. Whether
    /// its session is still open is the Viewer's check (it needs the database each time).
    async fn verify_impersonation(
        &self,
        token: &str,
        alg: Algorithm,
        kid: &str,
    ) -> Result<VerifiedToken, AuthError> {
        let keys = self
            .impersonation
            .as_ref()
            .ok_or_else(|| KeyError::UnknownIssuer(impersonation::ISSUER.into()))?;
        if alg != Algorithm::ES256 {
            return Err(AuthError::AlgorithmMismatch(alg));
        }
        let key = keys
            .key(kid)
            .await
            .map_err(|e| AuthError::Impersonation(format!("key lookup failed: {e}")))?
            .ok_or_else(|| KeyError::UnknownKid {
                issuer: impersonation::ISSUER.into(),
                kid: kid.into(),
            })?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[impersonation::ISSUER]);
        validation.set_audience(&[&self.portal_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        let session = claims
            .sid
            .as_deref()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(|| AuthError::Impersonation("no valid sid".into()))?;
        if claims.act.as_ref().is_none_or(|a| a.sub.trim().is_empty()) || claims.sub.is_empty() {
            return Err(AuthError::Impersonation("no act or sub".into()));
        }
        Ok(VerifiedToken {
            claims,
            audience: Audience::Portal,
            impersonation: Some(session),
        })
    }
}

/// The `iss` claim read before verification, only to choose which keys to verify with.
fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| AuthError::Malformed("no payload".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| AuthError::Malformed(e.to_string()))?;
    let claims: IssuerOnly =
        serde_json::from_slice(&bytes).map_err(|e| AuthError::Malformed(e.to_string()))?;
    claims
        .iss
        .ok_or_else(|| AuthError::Invalid("missing iss".into()))
}
