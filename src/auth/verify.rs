//! Bearer-token verification.
//!
//! Accepted: RS256/ES256 only (never `none`, never HS*), a `kid` naming a key of a trusted
//! issuer, `exp`, `iss`, `aud` and `sub` present, `exp`/`nbf` checked with the configured
//! leeway (≤ 60 s), `aud` among the accepted audiences. `jku`/`x5u` are ignored; a `crit`
//! header is refused, since no extension is understood (RFC 7515 §4.1.11). Any
//! failure is reported to the client as `UNAUTHENTICATED`; the reason is only logged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::auth::claims::{Audience, Claims, VerifiedToken};
use crate::auth::jwks::{KeyError, KeyStore};
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
}

/// Verifies bearer tokens against the trusted issuers.
pub struct TokenVerifier {
    keys: KeyStore,
    audiences: Vec<String>,
    operator_audience: String,
    leeway_secs: u64,
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
            leeway_secs: config.leeway.as_secs(),
        }
    }

    /// Verifies `token` (without the `Bearer ` prefix).
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
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
        let audience = if claims.aud.contains(&self.operator_audience) {
            Audience::Operator
        } else {
            Audience::Portal
        };
        Ok(VerifiedToken { claims, audience })
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
