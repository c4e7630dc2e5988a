//! Settings of the request rate limits and of the client address (`RATE_LIMIT_*`,
//! `TRUSTED_PROXIES`).

use std::time::Duration;

use ipnet::IpNet;

use crate::config::ConfigError;

/// `count` requests per `period`, of which all may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period (and the burst).
    pub count: u32,
    /// The period; one request is earned back every `period / count`.
    pub period: Duration,
}

impl Rate {
    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            period: Duration::from_secs(60),
        }
    }
}

/// Rate limits and proxy trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `RATE_LIMIT_ANONYMOUS_PER_MIN`: operations per client IP without a valid token.
    pub anonymous: Rate,
    /// `RATE_LIMIT_USER_PER_MIN`: operations per signed-in user.
    pub user: Rate,
    /// `RATE_LIMIT_MUTATIONS_PER_MIN`: mutations per user (per IP without a valid token), on
    /// top of the limits above.
    pub mutations: Rate,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed (IPs or CIDR ranges).
    pub trusted_proxies: Vec<IpNet>,
    /// `RATE_LIMIT_COST_UNIT`: complexity points an operation counts once for against the
    /// per-IP and per-user limits (an operation of complexity 250 counts 3 times with 100).
    pub cost_unit: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            anonymous: Rate::per_minute(300),
            user: Rate::per_minute(1200),
            mutations: Rate::per_minute(120),
            trusted_proxies: Vec::new(),
            cost_unit: 100,
        }
    }
}

impl LimitsConfig {
    /// Reads the settings through `get` (unset or empty: the defaults).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let rate = |name: &'static str, default: Rate| -> Result<Rate, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(count) if count > 0 => Ok(Rate::per_minute(count)),
                    _ => Err(ConfigError {
                        name,
                        message: format!("`{raw}` is not a positive whole number"),
                    }),
                },
            }
        };
        config.anonymous = rate("RATE_LIMIT_ANONYMOUS_PER_MIN", config.anonymous)?;
        config.user = rate("RATE_LIMIT_USER_PER_MIN", config.user)?;
        config.mutations = rate("RATE_LIMIT_MUTATIONS_PER_MIN", config.mutations)?;
        config.cost_unit = rate("RATE_LIMIT_COST_UNIT", Rate::per_minute(config.cost_unit))?.count;
        if let Some(raw) = get("TRUSTED_PROXIES") {
            config.trusted_proxies = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| ConfigError {
                            name: "TRUSTED_PROXIES",
                            message: format!("`{s}` is not an IP address or CIDR range"),
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<LimitsConfig, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LimitsConfig::from_lookup(&|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn reads_rates_and_proxies() {
        assert_eq!(load(&[]).unwrap(), LimitsConfig::default());
        let c = load(&[
            ("RATE_LIMIT_USER_PER_MIN", "10"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(c.user, Rate::per_minute(10));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[1].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(
            load(&[("RATE_LIMIT_MUTATIONS_PER_MIN", "0")])
                .unwrap_err()
                .name,
            "RATE_LIMIT_MUTATIONS_PER_MIN"
        );
        assert_eq!(
            load(&[("TRUSTED_PROXIES", "proxy.local")])
                .unwrap_err()
                .name,
            "TRUSTED_PROXIES"
        );
    }
}
