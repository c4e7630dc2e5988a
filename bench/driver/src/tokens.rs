//! Tokens signed with the server's development issuer key (`DATA_DIR/dev-issuer/`), exactly
//! as `platform-api dev-token` signs them, so each virtual user can have its own token
//! without one process start per token.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The portal audience (platform-api's default `AUTH_PORTAL_AUDIENCE`).
pub const PORTAL: &str = "dezky-portal";
/// The operator audience (platform-api's default `AUTH_OPERATOR_AUDIENCE`).
pub const OPERATOR: &str = "dezky-operator";

/// Signs development tokens.
pub struct DevSigner {
    issuer: String,
    kid: String,
    key: EncodingKey,
}

impl DevSigner {
    /// Loads the key the server created under `data_dir`; `issuer` is `http://<BIND_ADDR>`.
    pub fn load(data_dir: &Path, issuer: &str) -> anyhow::Result<Self> {
        let path = data_dir.join("dev-issuer").join("es256-private-key.pem");
        let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let key = EncodingKey::from_ec_pem(&pem)?;
        // The kid is derived like the server's (src/auth/dev_issuer.rs): "dev-" + the first
        // 16 characters of the public key's x coordinate.
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)?;
        let x = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(ec) => ec.x.clone(),
            _ => anyhow::bail!("the development key is not an EC key"),
        };
        Ok(Self {
            issuer: issuer.to_string(),
            kid: format!("dev-{}", &x[..x.len().min(16)]),
            key,
        })
    }

    /// A token for `sub` and `aud`, valid for 6 hours.
    pub fn sign(&self, sub: &str, aud: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = json!({
            "sub": sub, "aud": aud, "iss": self.issuer,
            "iat": now, "nbf": now, "exp": now + 6 * 3600,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
