//! A string that must never reach a log line or an error message.

use std::fmt;

/// A secret value (API token, password, webhook signing secret, client secret).
///
/// `Debug` and `Display` print `[REDACTED]`; the value is only reachable through
/// [`Secret::expose`], so every place that handles the plaintext is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The plaintext. Use only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("sk_live_hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert_eq!(s.to_string(), "[REDACTED]");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret([REDACTED]))");
        assert_eq!(s.expose(), "sk_live_hunter2");
    }
}
