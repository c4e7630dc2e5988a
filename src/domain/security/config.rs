//! Settings of the security area: the GeoIP database, and the caches and concurrency of the
//! upstream reads behind `Tenant.mfaStatus` and `Tenant.storage`, and how often the stored
//! MFA enrollment snapshot is refreshed.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::ConfigError;

/// Security settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `GEOIP_DATABASE`: a MaxMind-format country database; unset: countries not enforced.
    pub geoip_database: Option<PathBuf>,
    /// `SECURITY_CACHE_TTL_SECS`: how long an MFA overview or a storage reading is reused.
    pub cache_ttl: Duration,
    /// `SECURITY_UPSTREAM_CONCURRENCY`: upstream calls in flight at most for one request's
    /// MFA overviews and storage readings together.
    pub upstream_concurrency: usize,
    /// `MFA_SNAPSHOT_INTERVAL_SECS`: the `mfa_snapshot` job refreshes the stored enrollment
    /// of users whose snapshot is older than this, and runs once per this; zero: the job
    /// does not run (the snapshot is then only written by `Tenant.mfaStatus` reads).
    pub mfa_snapshot_interval: Duration,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            geoip_database: None,
            cache_ttl: Duration::from_secs(30),
            upstream_concurrency: 4,
            mfa_snapshot_interval: Duration::from_secs(6 * 3600),
        }
    }
}

impl SecurityConfig {
    /// From the environment (empty values count as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self {
            geoip_database: get("GEOIP_DATABASE").map(PathBuf::from),
            ..Self::default()
        };
        let number = |name: &'static str, min: u64, max: u64| -> Result<Option<u64>, ConfigError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or(ConfigError {
                            name,
                            message: format!("{v:?} is not a whole number from {min} to {max}"),
                        })
                })
                .transpose()
        };
        if let Some(secs) = number("SECURITY_CACHE_TTL_SECS", 0, 3600)? {
            config.cache_ttl = Duration::from_secs(secs);
        }
        if let Some(n) = number("SECURITY_UPSTREAM_CONCURRENCY", 1, 64)? {
            config.upstream_concurrency = n as usize;
        }
        if let Some(secs) = number("MFA_SNAPSHOT_INTERVAL_SECS", 0, 7 * 86_400)? {
            config.mfa_snapshot_interval = Duration::from_secs(secs);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let none = |_: &str| None;
        assert_eq!(
            SecurityConfig::from_lookup(&none).unwrap(),
            SecurityConfig::default()
        );
        let set = |name: &str| match name {
            "GEOIP_DATABASE" => Some("/x.mmdb".to_owned()),
            "SECURITY_CACHE_TTL_SECS" => Some("5".to_owned()),
            "SECURITY_UPSTREAM_CONCURRENCY" => Some("2".to_owned()),
            "MFA_SNAPSHOT_INTERVAL_SECS" => Some("0".to_owned()),
            _ => None,
        };
        let c = SecurityConfig::from_lookup(&set).unwrap();
        assert_eq!(
            c.mfa_snapshot_interval,
            Duration::ZERO,
            "0 disables the job"
        );
        assert_eq!(c.geoip_database, Some(PathBuf::from("/x.mmdb")));
        assert_eq!(
            (c.cache_ttl, c.upstream_concurrency),
            (Duration::from_secs(5), 2)
        );
        let bad = |name: &str| (name == "SECURITY_UPSTREAM_CONCURRENCY").then(|| "0".to_owned());
        assert_eq!(
            SecurityConfig::from_lookup(&bad).unwrap_err().name,
            "SECURITY_UPSTREAM_CONCURRENCY"
        );
        for value in ["soon", "-1", "604801"] {
            let bad = |name: &str| (name == "MFA_SNAPSHOT_INTERVAL_SECS").then(|| value.to_owned());
            assert_eq!(
                SecurityConfig::from_lookup(&bad).unwrap_err().name,
                "MFA_SNAPSHOT_INTERVAL_SECS",
                "{value}"
            );
        }
    }
}
