//! DNS lookups for the domain verifier, with `hickory-resolver`: only the resolvers named in
//! `DNS_RESOLVERS` are asked (never the system resolver, so a split-horizon answer cannot
//! pass for the public one), UDP first with TCP for truncated answers, no cache (each check
//! sees what the resolvers say now), a timeout per query (`DNS_TIMEOUT_MS`), and at most
//! `DNS_MAX_INFLIGHT` queries in flight per process.
//!
//! An answer becomes a [`Lookup`]: the records (TXT strings joined with nothing between them,
//! per RFC 7208 §3.3 and RFC 6376 §3.6.2.2; MX as `<preference> <exchange>`), `Empty` for
//! NXDOMAIN or no data, and `Unknown` for anything else (timeout, SERVFAIL, refused).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::Semaphore;

use crate::config::ConfigError;
pub use crate::domain::domains::check::Lookup;

/// Where and how the verifier asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The resolvers asked, in order (`DNS_RESOLVERS`, `ip:port`, comma-separated; default
    /// `1.1.1.1:53,8.8.8.8:53`).
    pub resolvers: Vec<SocketAddr>,
    /// Queries in flight at most, per process (`DNS_MAX_INFLIGHT`, default 64).
    pub max_inflight: usize,
    /// Time to wait for one answer (`DNS_TIMEOUT_MS`, default 3000).
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            resolvers: vec![
                SocketAddr::from(([1, 1, 1, 1], 53)),
                SocketAddr::from(([8, 8, 8, 8], 53)),
            ],
            max_inflight: 64,
            timeout: Duration::from_secs(3),
        }
    }
}

impl DnsConfig {
    /// Reads the `DNS_*` variables through `get` (blank already counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(list) = get("DNS_RESOLVERS") {
            config.resolvers = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| ConfigError {
                        name: "DNS_RESOLVERS",
                        message: format!("`{s}` is not an ip:port address"),
                    })
                })
                .collect::<Result<_, _>>()?;
            if config.resolvers.is_empty() {
                return Err(ConfigError {
                    name: "DNS_RESOLVERS",
                    message: "name at least one resolver".into(),
                });
            }
        }
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
        config.max_inflight = usize::try_from(positive("DNS_MAX_INFLIGHT", 64)?).unwrap_or(64);
        config.timeout = Duration::from_millis(positive("DNS_TIMEOUT_MS", 3000)?);
        Ok(config)
    }
}

/// The verifier's DNS client (one per process; cheap to share).
pub struct DnsClient {
    resolver: TokioResolver,
    permits: Semaphore,
    inflight: AtomicUsize,
    peak: AtomicUsize,
}

impl DnsClient {
    /// A client asking `config.resolvers`.
    pub fn new(config: &DnsConfig) -> Result<Arc<Self>, anyhow::Error> {
        let servers = config
            .resolvers
            .iter()
            .map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                server
            })
            .collect();
        let mut options = ResolverOpts::default();
        options.timeout = config.timeout;
        options.attempts = 1;
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        let resolver = Resolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), servers),
            TokioRuntimeProvider::default(),
        )
        .with_options(options)
        .build()?;
        Ok(Arc::new(Self {
            resolver,
            permits: Semaphore::new(config.max_inflight),
            inflight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }))
    }

    /// The most queries this client ever had in flight at once.
    pub fn peak_inflight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The TXT records at `name`, each record's strings joined.
    pub async fn txt(&self, name: &str) -> Lookup {
        self.lookup(name, RecordType::TXT).await
    }

    /// The MX records at `name`, as `<preference> <exchange>`.
    pub async fn mx(&self, name: &str) -> Lookup {
        self.lookup(name, RecordType::MX).await
    }

    #[tracing::instrument(skip(self), level = "debug")]
    async fn lookup(&self, name: &str, kind: RecordType) -> Lookup {
        let Ok(_permit) = self.permits.acquire().await else {
            return Lookup::Unknown("the resolver is shutting down".into());
        };
        let now = self.inflight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let answer = self.resolver.lookup(fqdn.as_str(), kind).await;
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        match answer {
            Ok(lookup) => {
                let values: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s))
                                .collect::<String>(),
                        ),
                        RData::MX(mx) => Some(format!(
                            "{} {}",
                            mx.preference,
                            mx.exchange.to_ascii().trim_end_matches('.')
                        )),
                        _ => None,
                    })
                    .collect();
                if values.is_empty() {
                    Lookup::Empty
                } else {
                    Lookup::Found(values)
                }
            }
            Err(e) if e.is_no_records_found() => Lookup::Empty,
            Err(e) => Lookup::Unknown(match e {
                hickory_resolver::net::NetError::Timeout => {
                    "the resolvers did not answer in time".into()
                }
                other => format!("no answer: {other}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_name_the_variable() {
        let config = DnsConfig::from_lookup(&|_| None).unwrap();
        assert_eq!(config, DnsConfig::default());
        let config = DnsConfig::from_lookup(&|n| match n {
            "DNS_RESOLVERS" => Some("127.0.0.1:5353, [::1]:53".into()),
            "DNS_MAX_INFLIGHT" => Some("8".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.resolvers.len(), 2);
        assert_eq!(config.max_inflight, 8);
        for (name, value) in [
            ("DNS_RESOLVERS", "1.1.1.1"),
            ("DNS_MAX_INFLIGHT", "0"),
            ("DNS_TIMEOUT_MS", "soon"),
        ] {
            let error =
                DnsConfig::from_lookup(&|n| (n == name).then(|| value.to_owned())).unwrap_err();
            assert_eq!(error.name, name);
        }
    }
}
