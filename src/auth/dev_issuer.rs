//! The development issuer: with no `AUTH_ISSUERS` outside production, the server signs its
//! own tokens (`platform-api dev-token`) with an ES256 key kept under `DATA_DIR`, and serves
//! the discovery document and JWKS for it, so development tokens go through exactly the
//! verification path production tokens do.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde::Serialize;
use serde_json::{Value, json};

/// The development signing key and what is published about it.
pub struct DevIssuer {
    issuer: String,
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

/// What `dev-token` puts in a token.
#[derive(Debug, Clone, Serialize)]
pub struct DevTokenRequest {
    /// Subject.
    pub sub: String,
    /// Audience (a client id).
    pub aud: String,
    /// Email claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Groups claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// The issuer URL of the development issuer of a server bound to `addr`.
pub fn issuer_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dev-issuer").join("es256-private-key.pem")
}

impl DevIssuer {
    /// Loads the key from `DATA_DIR/dev-issuer/`, creating it (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path, issuer: String) -> anyhow::Result<Self> {
        let path = key_path(data_dir);
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        };
        let encoding = EncodingKey::from_ec_pem(&pem)?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)?;
        let x = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec) => ec.x.clone(),
            _ => anyhow::bail!("the development key is not an EC key"),
        };
        let kid = format!("dev-{}", &x[..x.len().min(16)]);
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            issuer,
            kid,
            encoding,
            jwk,
        })
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            // Its own key only (the full `/.well-known/jwks.json` also lists the
            // impersonation keys, read from the database).
            "jwks_uri": format!("{}/.well-known/dev-jwks.json", self.issuer),
            "id_token_signing_alg_values_supported": ["ES256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "name", "groups"],
        })
    }

    /// `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs a token valid for `ttl`.
    pub fn sign(&self, request: &DevTokenRequest, ttl: Duration) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut claims = serde_json::to_value(request)?;
        let fields = claims
            .as_object_mut()
            .expect("a struct serialises to an object");
        fields.insert("iss".into(), json!(self.issuer));
        fields.insert("iat".into(), json!(now));
        fields.insert("nbf".into(), json!(now));
        fields.insert("exp".into(), json!(now + ttl.as_secs()));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }
}

/// Creates the key atomically: written to a temporary file, then linked into place, so
/// processes starting together agree on one key (the loser reads the winner's).
fn create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF)?;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", path.display()))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".key-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created the development signing key");
            Ok(pem.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(e.into()),
    }
}

/// Parses a lifetime such as `90s`, `15m`, `1h` or `2d`.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 90s, 15m, 1h or 2d"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{raw:?}: unit must be s, m, h or d")),
    };
    if secs == 0 {
        return Err("the lifetime must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn unspecified_bind_addresses_become_loopback_issuers() {
        assert_eq!(
            issuer_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            issuer_url("127.0.0.1:9".parse().unwrap()),
            "http://127.0.0.1:9"
        );
        assert_eq!(issuer_url("[::]:80".parse().unwrap()), "http://[::1]:80");
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = std::env::temp_dir().join(format!("pa-dev-{}", uuid::Uuid::new_v4().simple()));
        let jwks: Vec<Value> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        DevIssuer::load_or_create(&dir, "http://127.0.0.1:1".into())
                            .unwrap()
                            .jwks()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            jwks.windows(2).all(|w| w[0] == w[1]),
            "every start sees the same key"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("pa-dev-{}", uuid::Uuid::new_v4().simple()));
        let a = DevIssuer::load_or_create(&dir, "http://127.0.0.1:1".into()).unwrap();
        let b = DevIssuer::load_or_create(&dir, "http://127.0.0.1:1".into()).unwrap();
        assert_eq!(a.jwks(), b.jwks());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(key_path(&dir)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
