//! Validation of a policy change: CIDR blocks (IPv4 and IPv6, normalised), ISO 3166-1
//! alpha-2 country codes, and bounds on the session timeouts. Errors name the input field.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{MfaMode, Policy, countries};
use crate::error::AppError;

/// Most CIDR blocks one allowlist may hold.
pub const MAX_BLOCKS: usize = 100;
/// Session idle timeout bounds, minutes.
pub const IDLE_MINUTES: std::ops::RangeInclusive<i32> = 5..=1440;
/// Session absolute timeout bounds, hours.
pub const ABSOLUTE_HOURS: std::ops::RangeInclusive<i32> = 1..=720;

/// A change to a policy: `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct PolicyChange {
    /// Who must use a second factor.
    pub mfa_mode: Option<MfaMode>,
    /// Idle timeout, minutes.
    pub session_idle_minutes: Option<i32>,
    /// Absolute timeout, hours.
    pub session_absolute_hours: Option<i32>,
    /// Country codes (replaces the list; empty: anywhere).
    pub allowed_countries: Option<Vec<String>>,
    /// CIDR blocks or single addresses (replaces the list; empty: anywhere).
    pub ip_allowlist: Option<Vec<String>>,
}

impl PolicyChange {
    /// `current` with this change applied, validated.
    pub fn apply(self, current: &Policy) -> Result<Policy, AppError> {
        let mut next = current.clone();
        if let Some(mode) = self.mfa_mode {
            next.mfa_mode = mode;
        }
        if let Some(minutes) = self.session_idle_minutes {
            next.session_idle_minutes = bounded(
                minutes,
                &IDLE_MINUTES,
                "input.sessionIdleMinutes",
                "minutes",
            )?;
        }
        if let Some(hours) = self.session_absolute_hours {
            next.session_absolute_hours = bounded(
                hours,
                &ABSOLUTE_HOURS,
                "input.sessionAbsoluteHours",
                "hours",
            )?;
        }
        if next.session_idle_minutes > next.session_absolute_hours * 60 {
            return Err(AppError::bad_input(
                "input.sessionIdleMinutes",
                "the idle timeout cannot be longer than the absolute timeout",
            ));
        }
        if let Some(codes) = self.allowed_countries {
            next.allowed_countries = country_codes(&codes)?;
        }
        if let Some(blocks) = self.ip_allowlist {
            next.ip_allowlist = cidr_blocks(&blocks)?;
        }
        Ok(next)
    }
}

fn bounded(
    value: i32,
    range: &std::ops::RangeInclusive<i32>,
    field: &str,
    unit: &str,
) -> Result<i32, AppError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(
            field,
            format!("between {} and {} {unit}", range.start(), range.end()),
        ))
    }
}

/// Upper-cased, de-duplicated, sorted ISO 3166-1 alpha-2 codes.
pub fn country_codes(raw: &[String]) -> Result<Vec<String>, AppError> {
    let mut codes = Vec::with_capacity(raw.len());
    for (i, code) in raw.iter().enumerate() {
        let code = code.trim().to_ascii_uppercase();
        if !countries::is_assigned(&code) {
            return Err(AppError::bad_input(
                format!("input.allowedCountries[{i}]"),
                "not an ISO 3166-1 alpha-2 country code",
            ));
        }
        codes.push(code);
    }
    codes.sort();
    codes.dedup();
    Ok(codes)
}

/// Normalised CIDR blocks (a single address becomes /32 or /128; host bits are cleared),
/// de-duplicated, in the order given.
pub fn cidr_blocks(raw: &[String]) -> Result<Vec<String>, AppError> {
    if raw.len() > MAX_BLOCKS {
        return Err(AppError::bad_input(
            "input.ipAllowlist",
            format!("at most {MAX_BLOCKS} blocks"),
        ));
    }
    let mut blocks: Vec<String> = Vec::with_capacity(raw.len());
    for (i, entry) in raw.iter().enumerate() {
        let entry = entry.trim();
        let net = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                AppError::bad_input(
                    format!("input.ipAllowlist[{i}]"),
                    "not an IPv4 or IPv6 address or CIDR block",
                )
            })?
            .trunc();
        let text = net.to_string();
        if !blocks.contains(&text) {
            blocks.push(text);
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn blocks_are_normalised_and_bad_ones_named() {
        assert_eq!(
            cidr_blocks(&strings(&[
                " 203.0.113.7/24",
                "198.51.100.1",
                "2001:DB8:0:0::1/32",
                "203.0.113.0/24"
            ]))
            .unwrap(),
            strings(&["203.0.113.0/24", "198.51.100.1/32", "2001:db8::/32"])
        );
        for bad in ["10.0.0.0/33", "banana", "10.0.0", "2001:db8::/129", ""] {
            let e = cidr_blocks(&strings(&["10.0.0.0/8", bad])).unwrap_err();
            assert!(
                matches!(e, AppError::BadUserInput { ref field, .. } if field == "input.ipAllowlist[1]"),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn countries_are_checked_against_the_list() {
        assert_eq!(
            country_codes(&strings(&["fr", "DE", "de"])).unwrap(),
            strings(&["DE", "FR"])
        );
        let e = country_codes(&strings(&["DE", "XX"])).unwrap_err();
        assert!(
            matches!(e, AppError::BadUserInput { ref field, .. } if field == "input.allowedCountries[1]")
        );
    }

    #[test]
    fn timeouts_are_bounded_and_consistent() {
        let p = Policy::default();
        let change = |idle, abs| PolicyChange {
            session_idle_minutes: idle,
            session_absolute_hours: abs,
            ..Default::default()
        };
        assert!(change(Some(5), Some(1)).apply(&p).is_ok());
        assert!(change(Some(4), None).apply(&p).is_err());
        assert!(change(Some(1441), None).apply(&p).is_err());
        assert!(change(None, Some(0)).apply(&p).is_err());
        assert!(change(None, Some(721)).apply(&p).is_err());
        let e = change(Some(120), Some(1)).apply(&p).unwrap_err();
        assert!(
            matches!(e, AppError::BadUserInput { ref field, .. } if field == "input.sessionIdleMinutes")
        );
    }
}
