//! The id that ties a request's response, its errors and its log lines together.

use std::fmt;

/// A request id: the client's `x-request-id` when it is sane, otherwise a fresh UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts a client-supplied id only if it is 1–128 characters of `[A-Za-z0-9._:-]`,
    /// so it is safe to log and echo.
    pub fn from_client(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_ids_are_kept_and_others_refused() {
        assert_eq!(
            RequestId::from_client("abc-123.x:y_z").unwrap().as_str(),
            "abc-123.x:y_z"
        );
        assert!(RequestId::from_client("").is_none());
        assert!(RequestId::from_client("has space").is_none());
        assert!(RequestId::from_client("line\nbreak").is_none());
        assert!(RequestId::from_client(&"a".repeat(129)).is_none());
        assert_eq!(RequestId::generate().as_str().len(), 36);
    }
}
