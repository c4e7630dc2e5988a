//! Sealing of one-time passwords while a job carries them: AES-256-GCM (`aes-gcm`) with the
//! key of `PLATFORM_API_SECRET_KEY`, or in development a key generated under `DATA_DIR`.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, with a fresh random
//! nonce each time; opening checks the tag, so a changed byte or another key is refused.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand_core::{OsRng, RngCore};

use crate::upstream::Secret;

const NONCE_LEN: usize = 12;

/// The key that seals one-time passwords.
#[derive(Clone)]
pub struct SealingKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("the sealed value is damaged or was sealed with another key")]
pub struct OpenError;

/// Parses a key written as 64 hex digits or as base64 (standard or URL-safe) of 32 bytes.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines.iter().find_map(|e| e.decode(text).ok())?
    };
    bytes.try_into().ok()
}

fn dev_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret-key").join("aes-256-gcm.key")
}

impl SealingKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }

    /// The configured key, or the development key under `data_dir` (created on first use,
    /// mode 0600, atomically so that processes starting together agree on one key).
    pub fn load(configured: Option<&Secret>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(secret) = configured {
            let bytes = parse_key(secret.expose()).ok_or_else(|| {
                anyhow::anyhow!("PLATFORM_API_SECRET_KEY is not 32 bytes in hex or base64")
            })?;
            return Ok(Self::new(&bytes));
        }
        let path = dev_key_path(data_dir);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let bytes = parse_key(&text)
                .ok_or_else(|| anyhow::anyhow!("{} does not hold a key", path.display()))?;
            return Ok(Self::new(&bytes));
        }
        let bytes = create_dev_key(&path)?;
        tracing::warn!(path = %path.display(), "no PLATFORM_API_SECRET_KEY: using a development key");
        Ok(Self::new(&bytes))
    }

    /// Seals `plain` under a fresh nonce.
    pub fn seal(&self, plain: &Secret) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.expose().as_bytes())
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value [`Self::seal`]ed with this key.
    pub fn open(&self, sealed: &[u8]) -> Result<Secret, OpenError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| OpenError)
    }
}

fn create_dev_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
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
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(bytes),
        // Another process won the race: use its key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            parse_key(&text)
                .ok_or_else(|| anyhow::anyhow!("{} does not hold a key", path.display()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_tampering_and_other_keys() {
        let key = SealingKey::new(&[7; 32]);
        let plain = Secret::new("Correct-Horse-9!");
        let a = key.seal(&plain);
        let b = key.seal(&plain);
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.windows(5).any(|w| w == b"Horse"), "no plaintext inside");
        assert_eq!(key.open(&a).unwrap(), plain);
        let mut bad = a.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(key.open(&bad).is_err());
        assert!(SealingKey::new(&[8; 32]).open(&a).is_err());
        assert!(key.open(&a[..10]).is_err());
    }

    #[test]
    fn keys_parse_from_hex_and_base64_only_at_32_bytes() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        let b64 = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
        assert_eq!(parse_key(&b64), Some([3; 32]));
        assert_eq!(parse_key("short"), None);
        assert_eq!(parse_key(&"ab".repeat(31)), None);
    }

    #[test]
    fn the_development_key_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("sealing-{}", uuid::Uuid::new_v4()));
        let first = SealingKey::load(None, &dir).unwrap();
        let sealed = first.seal(&Secret::new("x"));
        let again = SealingKey::load(None, &dir).unwrap();
        assert_eq!(again.open(&sealed).unwrap().expose(), "x");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dev_key_path(&dir))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let configured = Secret::new("cd".repeat(32));
        let other = SealingKey::load(Some(&configured), &dir).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(SealingKey::load(Some(&Secret::new("nope")), &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
