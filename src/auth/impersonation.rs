//! This server's impersonation signing keys (RFC 8693 token exchange).
//!
//! - Each process makes its own ES256 key in memory and signs with it for at most
//!   `IMPERSONATION_KEY_ROTATION`; then it makes a new one (rotation). The private half never
//!   leaves the process: it is not written to disk, to the database or to a log line.
//! - The public half goes to `impersonation_keys` before the first token it signs, with a
//!   `retire_at` after which no token it signed can still be valid (rotation period + the
//!   longest session + leeway). Every replica verifies every replica's tokens through that
//!   table (cached per `kid`), and `/.well-known/jwks.json` serves the keys not yet retired.
//! - Only tokens whose `iss` is [`ISSUER`] are verified with these keys, and only they may
//!   carry an `act` claim (see [`crate::auth::verify`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde::Serialize;

use crate::db::DbPool;
use crate::db::schema::impersonation_keys;
use crate::error::{AppError, AppResult};

/// The `iss` of impersonation tokens.
pub const ISSUER: &str = "urn:dezky:platform-api:impersonation";

/// The `issued_token_type` (RFC 8693 §3) of the tokens this server issues.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The key a process signs with now.
struct CurrentKey {
    signer: Signer,
    made: Instant,
}

/// A verification key and when it stops being trusted.
struct KnownKey {
    key: Arc<DecodingKey>,
    retire_at: DateTime<Utc>,
}

/// The impersonation keys of this process: the one it signs with, and a cache of every
/// replica's public keys.
pub struct ImpersonationKeys {
    pool: DbPool,
    rotation: Duration,
    keep_after: Duration,
    current: tokio::sync::Mutex<Option<CurrentKey>>,
    known: RwLock<HashMap<String, KnownKey>>,
}

/// A handle to sign with (the key of the moment, fetched before a transaction opens).
#[derive(Clone)]
pub struct Signer {
    kid: String,
    encoding: Arc<EncodingKey>,
    public: Arc<serde_json::Value>,
    retire_at: DateTime<Utc>,
}

/// The `act` claim (RFC 8693 §4.1): who acts.
#[derive(Debug, Clone, Serialize)]
pub struct ActClaim {
    /// The operator's subject at the identity provider.
    pub sub: String,
}

/// The claims of an impersonation token.
#[derive(Debug, Clone, Serialize)]
pub struct ImpersonationClaims {
    /// The impersonated user's subject at the identity provider.
    pub sub: String,
    /// The portal audience.
    pub aud: String,
    /// The operator.
    pub act: ActClaim,
    /// The session's id (`impersonation_sessions.id`).
    pub sid: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry: the session's `expires_at`.
    pub exp: i64,
}

#[derive(Serialize)]
struct SignedClaims<'a> {
    iss: &'static str,
    #[serde(flatten)]
    claims: &'a ImpersonationClaims,
}

impl Signer {
    /// Publishes the public half (idempotent): call it in the transaction of the change that
    /// signs, so a committed session always has its key in the table.
    pub async fn publish(&self, conn: &mut AsyncPgConnection) -> AppResult<()> {
        diesel::insert_into(impersonation_keys::table)
            .values((
                impersonation_keys::kid.eq(&self.kid),
                impersonation_keys::public_jwk.eq(&*self.public),
                impersonation_keys::retire_at.eq(self.retire_at),
            ))
            .on_conflict(impersonation_keys::kid)
            .do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Signs `claims` (ES256, with this key's `kid`).
    pub fn sign(&self, claims: &ImpersonationClaims) -> AppResult<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let body = SignedClaims {
            iss: ISSUER,
            claims,
        };
        jsonwebtoken::encode(&header, &body, &self.encoding).map_err(AppError::internal)
    }
}

/// Whether `kid` has the shape this server gives its keys (anything else is not looked up).
fn plausible_kid(kid: &str) -> bool {
    kid.strip_prefix("imp-")
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl ImpersonationKeys {
    /// Keys that rotate every `rotation` and stay trusted `max_ttl + leeway` longer.
    pub fn new(pool: DbPool, rotation: Duration, max_ttl: Duration, leeway: Duration) -> Self {
        Self {
            pool,
            rotation,
            keep_after: max_ttl + leeway,
            current: tokio::sync::Mutex::new(None),
            known: RwLock::default(),
        }
    }

    /// The key to sign with now: a new one when there is none yet or the current one is
    /// older than the rotation period. Nothing is written here: the change that signs
    /// publishes the key in its own transaction ([`Signer::publish`]).
    pub async fn signer(&self) -> AppResult<Signer> {
        let mut current = self.current.lock().await;
        if let Some(key) = current
            .as_ref()
            .filter(|k| k.made.elapsed() < self.rotation)
        {
            return Ok(key.signer.clone());
        }
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(AppError::internal)?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(AppError::internal)?;
        drop(pem);
        let kid = format!("imp-{}", uuid::Uuid::new_v4().simple());
        let mut jwk =
            Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(AppError::internal)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public = serde_json::to_value(&jwk).map_err(AppError::internal)?;
        let retire_at = Utc::now()
            + chrono::Duration::from_std(self.rotation + self.keep_after)
                .map_err(AppError::internal)?;
        tracing::info!(%kid, "new impersonation signing key");
        let signer = Signer {
            kid,
            encoding: Arc::new(encoding),
            public: Arc::new(public),
            retire_at,
        };
        *current = Some(CurrentKey {
            signer: signer.clone(),
            made: Instant::now(),
        });
        Ok(signer)
    }

    /// The verification key `kid`, if it is one of ours and not retired (cached; a miss
    /// costs one statement).
    pub async fn key(&self, kid: &str) -> AppResult<Option<Arc<DecodingKey>>> {
        if !plausible_kid(kid) {
            return Ok(None);
        }
        {
            let known = self.known.read().unwrap_or_else(|p| p.into_inner());
            if let Some(k) = known.get(kid) {
                return Ok((k.retire_at > Utc::now()).then(|| Arc::clone(&k.key)));
            }
        }
        let mut conn = self.pool.get().await?;
        let row: Option<(serde_json::Value, DateTime<Utc>)> = impersonation_keys::table
            .filter(impersonation_keys::kid.eq(kid))
            .filter(impersonation_keys::retire_at.gt(diesel::dsl::now))
            .select((
                impersonation_keys::public_jwk,
                impersonation_keys::retire_at,
            ))
            .first(&mut conn)
            .await
            .optional()?;
        let Some((public, retire_at)) = row else {
            return Ok(None);
        };
        let jwk: Jwk = serde_json::from_value(public).map_err(AppError::internal)?;
        let key = Arc::new(DecodingKey::from_jwk(&jwk).map_err(AppError::internal)?);
        self.known
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                kid.to_owned(),
                KnownKey {
                    key: Arc::clone(&key),
                    retire_at,
                },
            );
        Ok(Some(key))
    }

    /// The public keys not yet retired, newest first (for the JWKS).
    pub async fn public_keys(&self) -> AppResult<Vec<serde_json::Value>> {
        let mut conn = self.pool.get().await?;
        Ok(impersonation_keys::table
            .filter(impersonation_keys::retire_at.gt(diesel::dsl::now))
            .order(impersonation_keys::created_at.desc())
            .select(impersonation_keys::public_jwk)
            .load(&mut conn)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_kid_shape_is_looked_up() {
        assert!(plausible_kid(&format!(
            "imp-{}",
            uuid::Uuid::new_v4().simple()
        )));
        assert!(!plausible_kid("dev-abc"));
        assert!(!plausible_kid("imp-xyz"));
        assert!(!plausible_kid(""));
    }
}
