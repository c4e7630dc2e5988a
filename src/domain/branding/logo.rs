//! Logo URLs: absolute `https` URLs only (a logo is shown in the portal and in emails).

use crate::error::AppError;

/// An `https` URL with a host, at most 2,048 characters, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl(String);

impl LogoUrl {
    /// Validates `raw` for `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        let bad = || AppError::bad_input(field, "a logo URL is an absolute https:// URL");
        let rest = s.strip_prefix("https://").ok_or_else(bad)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_ok = !host.is_empty()
            && !host.contains('@')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if s.len() > 2048 || !host_ok || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_with_a_host() {
        assert!(LogoUrl::parse("https://cdn.example.com/logo.png", "f").is_ok());
        assert!(LogoUrl::parse("https://cdn.example.com:8443/a?b=c", "f").is_ok());
        for bad in [
            "http://cdn.example.com/logo.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "https:///logo.png",
            "https://user@evil.example/logo.png",
            "https://a b.example/x",
            "//cdn.example.com/logo.png",
        ] {
            assert!(LogoUrl::parse(bad, "f").is_err(), "{bad}");
        }
    }
}
