//! Typed input values. Each `parse` checks one rule set and names the input field at fault,
//! so invalid input becomes `BAD_USER_INPUT` before anything is written.

use crate::error::AppError;

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::bad_input(field, message)
}

/// A slug: 3–63 characters of lower-case letters, digits and single inner dashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// Validates `raw` for `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        let chars_ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let shape_ok = !s.starts_with('-') && !s.ends_with('-') && !s.contains("--");
        if !(3..=63).contains(&s.len()) || !chars_ok || !shape_ok {
            return Err(bad(
                field,
                "a slug is 3–63 lower-case letters, digits and single dashes, starting and ending with a letter or digit",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Validates `raw` for `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > 200 {
            return Err(bad(field, "a name is 1 to 200 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(bad(field, "a name cannot contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plan identifier: 1–32 of `a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan(String);

impl Plan {
    /// Validates `raw` for `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(bad(
                field,
                "a plan is 1–32 lower-case letters, digits, '_' or '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The plan.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A DNS domain name, stored lower-case: at least two labels of 1–63 letters, digits or
/// inner dashes, 253 characters at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Validates `raw` for `field` (a trailing dot is dropped; case is folded).
    pub fn parse(raw: &str, field: &str) -> Result<Self, AppError> {
        let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = s.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if s.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(bad(field, "not a valid domain name, e.g. example.com"));
        }
        Ok(Self(s))
    }

    /// The domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A margin in percent, 0–100 with at most two decimals, kept as exact text for numeric(5,2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginPct(String);

impl MarginPct {
    /// Validates `value` for `field`.
    pub fn parse(value: f64, field: &str) -> Result<Self, AppError> {
        let hundredths = (value * 100.0).round();
        if !value.is_finite()
            || !(0.0..=100.0).contains(&value)
            || (value * 100.0 - hundredths).abs() > 1e-6
        {
            return Err(bad(
                field,
                "a margin is a percentage from 0 to 100 with at most two decimals",
            ));
        }
        Ok(Self(format!("{:.2}", hundredths / 100.0)))
    }

    /// The exact decimal text, e.g. `12.50`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON object of at most 16 KiB (contact or billing details).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonObject(serde_json::Value);

impl JsonObject {
    /// Validates `value` for `field`.
    pub fn parse(value: serde_json::Value, field: &str) -> Result<Self, AppError> {
        if !value.is_object() {
            return Err(bad(field, "must be a JSON object"));
        }
        if value.to_string().len() > 16 * 1024 {
            return Err(bad(field, "must be at most 16 KiB"));
        }
        Ok(Self(value))
    }

    /// The object.
    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }
}

/// An optional free-text reason (kept in the audit log): trimmed, empty means none, at most
/// 500 characters.
pub fn reason(raw: Option<String>, field: &str) -> Result<Option<String>, AppError> {
    let reason = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(bad(field, "at most 500 characters"));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "a1b", "acme-corp", &"a".repeat(63)] {
            assert_eq!(Slug::parse(ok, "f").unwrap().as_str(), ok);
        }
        assert_eq!(Slug::parse("  acme ", "f").unwrap().as_str(), "acme");
        for bad in [
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "ac--me",
            "acme_corp",
            "ac me",
            &"a".repeat(64),
            "",
        ] {
            assert!(Slug::parse(bad, "input.slug").is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_plans() {
        assert!(Name::parse("  ", "f").is_err());
        assert!(Name::parse("a\u{0007}b", "f").is_err());
        assert!(Name::parse(&"x".repeat(201), "f").is_err());
        assert_eq!(
            Name::parse(" ACME GmbH ", "f").unwrap().as_str(),
            "ACME GmbH"
        );
        assert!(Plan::parse("business-2", "f").is_ok());
        assert!(Plan::parse("Business", "f").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(
            DomainName::parse("Mail.Example.COM.", "f")
                .unwrap()
                .as_str(),
            "mail.example.com"
        );
        for bad in [
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "exa mple.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(DomainName::parse(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn margins() {
        assert_eq!(MarginPct::parse(12.5, "f").unwrap().as_str(), "12.50");
        assert_eq!(MarginPct::parse(0.0, "f").unwrap().as_str(), "0.00");
        assert_eq!(MarginPct::parse(100.0, "f").unwrap().as_str(), "100.00");
        for bad in [-0.01, 100.01, 12.345, f64::NAN] {
            assert!(MarginPct::parse(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(reason(Some("  ".into()), "f").unwrap(), None);
        assert_eq!(
            reason(Some(" unpaid ".into()), "f").unwrap().as_deref(),
            Some("unpaid")
        );
        assert!(reason(Some("x".repeat(501)), "f").is_err());
    }

    #[test]
    fn json_objects() {
        assert!(JsonObject::parse(serde_json::json!({"a": 1}), "f").is_ok());
        assert!(JsonObject::parse(serde_json::json!([1]), "f").is_err());
        assert!(JsonObject::parse(serde_json::json!({"a": "x".repeat(17 * 1024)}), "f").is_err());
    }
}
