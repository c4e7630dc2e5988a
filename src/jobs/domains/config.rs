//! Settings of domain verification, read from the environment by [`crate::config::Config`].

use std::time::Duration;

use crate::config::ConfigError;
use crate::upstream::dns::DnsConfig;

/// How domains are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainsConfig {
    /// The resolvers and their limits (`DNS_*`).
    pub dns: DnsConfig,
    /// How often every domain is checked (`DOMAIN_RECHECK_INTERVAL`, seconds, default 21600 = 6 h); each
    /// next check is spread by ±10 %.
    pub recheck_interval: Duration,
    /// Failed checks in a row that make a verified domain `FAILING` (`DOMAIN_FAILING_AFTER`,
    /// default 3).
    pub failing_after: u32,
    /// Domains one recheck job claims at a time (`DOMAIN_RECHECK_BATCH`, default 200).
    pub batch: usize,
}

impl Default for DomainsConfig {
    fn default() -> Self {
        Self {
            dns: DnsConfig::default(),
            recheck_interval: Duration::from_secs(6 * 3600),
            failing_after: 3,
            batch: 200,
        }
    }
}

impl DomainsConfig {
    /// Reads the variables through `get` (blank already counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            let value = get(name).map_or(Ok(default), |v| {
                v.trim().parse::<u64>().map_err(|_| ConfigError {
                    name,
                    message: format!("`{v}` is not a whole number"),
                })
            })?;
            if value == 0 {
                return Err(ConfigError {
                    name,
                    message: "must be at least 1".into(),
                });
            }
            Ok(value)
        };
        Ok(Self {
            dns: DnsConfig::from_lookup(get)?,
            recheck_interval: Duration::from_secs(positive(
                "DOMAIN_RECHECK_INTERVAL",
                defaults.recheck_interval.as_secs(),
            )?),
            failing_after: u32::try_from(positive("DOMAIN_FAILING_AFTER", 3)?).unwrap_or(u32::MAX),
            batch: usize::try_from(positive("DOMAIN_RECHECK_BATCH", 200)?).unwrap_or(200),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        assert_eq!(
            DomainsConfig::from_lookup(&|_| None).unwrap(),
            DomainsConfig::default()
        );
        let c =
            DomainsConfig::from_lookup(&|n| (n == "DOMAIN_FAILING_AFTER").then(|| "5".to_owned()))
                .unwrap();
        assert_eq!(c.failing_after, 5);
        let e = DomainsConfig::from_lookup(&|n| {
            (n == "DOMAIN_RECHECK_INTERVAL").then(|| "0".to_owned())
        })
        .unwrap_err();
        assert_eq!(e.name, "DOMAIN_RECHECK_INTERVAL");
    }
}
