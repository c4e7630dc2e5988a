//! Mail domain names, normalised once on the way in: surrounding space and one trailing dot
//! removed, IDNA (UTS 46, strict: STD3 rules) mapping, which also lower-cases, and punycode
//! for non-ASCII labels; then the DNS rules: at most 253 octets, 1–63 octets a label, letters,
//! digits and inner hyphens only, at least two labels, and a top-level label that is not all
//! digits (no IP addresses). What is stored is the ASCII form (A-labels); the Unicode form is
//! derived from it for display.

use crate::error::AppError;

/// A validated mail domain name, in its ASCII (punycode) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain(String);

impl MailDomain {
    /// Normalises and validates `raw`; errors name `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let bad = |why: &str| AppError::bad_input(field, format!("{why}, e.g. example.com"));
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(bad("a domain name is required"));
        }
        let ascii =
            idna::domain_to_ascii_strict(trimmed).map_err(|_| bad("not a valid domain name"))?;
        let labels: Vec<&str> = ascii.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if ascii.len() > 253 {
            return Err(bad("a domain name has at most 253 characters"));
        }
        if labels.len() < 2 {
            return Err(bad("a mail domain has at least two labels"));
        }
        if !labels.iter().all(label_ok) {
            return Err(bad("not a valid domain name"));
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("a domain name, not an IP address"));
        }
        Ok(Self(ascii))
    }

    /// The ASCII form (what DNS and Stalwart use).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Unicode form of a stored ASCII name (`xn--bcher-kva.example` → `bücher.example`); the
/// name itself when it has no A-labels or cannot be decoded.
pub fn unicode(ascii: &str) -> String {
    let (text, result) = idna::domain_to_unicode(ascii);
    if result.is_ok() {
        text
    } else {
        ascii.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_dots_and_idna() {
        let ok = |raw: &str| MailDomain::parse(raw, "f").unwrap().as_str().to_owned();
        assert_eq!(ok(" Mail.Example.COM. "), "mail.example.com");
        assert_eq!(ok("bücher.example"), "xn--bcher-kva.example");
        assert_eq!(ok("BÜCHER.example"), "xn--bcher-kva.example");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(unicode("xn--bcher-kva.example"), "bücher.example");
        assert_eq!(unicode("plain.example"), "plain.example");
    }

    #[test]
    fn refuses_what_is_not_a_mail_domain() {
        for bad in [
            "",
            ".",
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "exa mple.com",
            "under_score.com",
            "example.com..",
            "10.0.0.1",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "abcdefghi.".repeat(26)),
        ] {
            let error = MailDomain::parse(bad, "input.name").expect_err(bad);
            assert_eq!(error.code(), crate::error::ErrorCode::BadUserInput, "{bad}");
        }
    }
}
