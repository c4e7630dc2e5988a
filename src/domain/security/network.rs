//! Where a request comes from, and whether a tenant's policy lets it in: the part of the
//! policy this server enforces itself (the IP allowlist always, the countries when a GeoIP
//! database is configured).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

/// Where the current request comes from: the client address (the TCP peer, or what a
/// trusted proxy forwarded, see `TRUSTED_PROXIES`) and its country when a GeoIP database is
/// configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientNetwork {
    /// The client address; `None` when the transport does not know it.
    pub ip: Option<IpAddr>,
    /// Whether a GeoIP database is configured (countries are enforced).
    pub geoip: bool,
    /// The address's country (ISO 3166-1 alpha-2), when the database knows it.
    pub country: Option<String>,
}

/// The network part of a tenant's policy, as the Viewer statement loads it with each
/// membership (empty lists: no rule).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetworkRule {
    /// Normalised CIDR blocks.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default)]
    pub allowed_countries: Vec<String>,
}

impl NetworkRule {
    /// Whether the rule restricts anything this server enforces for `client`.
    pub fn is_empty(&self) -> bool {
        self.ip_allowlist.is_empty() && self.allowed_countries.is_empty()
    }

    /// Why a request from `client` is refused by this rule, or `None` when it is let in.
    /// An unknown address is refused by an allowlist; an address whose country the GeoIP
    /// database does not know is refused by a country rule. Without a GeoIP database the
    /// country rule is not enforced (the policy says so).
    pub fn refusal(&self, client: &ClientNetwork) -> Option<String> {
        if !self.ip_allowlist.is_empty() {
            let Some(ip) = client.ip else {
                return Some(
                    "the tenant's IP allowlist applies and the client address is unknown".into(),
                );
            };
            if !in_allowlist(&self.ip_allowlist, ip) {
                return Some(format!(
                    "the tenant's IP allowlist does not include the client address {ip}"
                ));
            }
        }
        if !self.allowed_countries.is_empty() && client.geoip {
            match (&client.country, client.ip) {
                (Some(country), _) if self.allowed_countries.iter().any(|c| c == country) => {}
                (Some(country), Some(ip)) => {
                    return Some(format!(
                        "the tenant's allowed countries do not include {country} (client address {ip})"
                    ));
                }
                (_, Some(ip)) => {
                    return Some(format!(
                        "the tenant allows some countries only and the country of the client address {ip} is unknown"
                    ));
                }
                (_, None) => {
                    return Some(
                        "the tenant allows some countries only and the client address is unknown"
                            .into(),
                    );
                }
            }
        }
        None
    }
}

/// Whether `ip` is in one of `blocks` (normalised CIDR strings; an unparsable entry, which
/// validation never writes, matches nothing). An IPv4-mapped IPv6 address counts as IPv4.
pub fn in_allowlist(blocks: &[String], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    blocks
        .iter()
        .filter_map(|b| b.parse::<IpNet>().ok())
        .any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str, country: Option<&str>, geoip: bool) -> ClientNetwork {
        ClientNetwork {
            ip: Some(ip.parse().unwrap()),
            geoip,
            country: country.map(str::to_owned),
        }
    }

    fn rule(ips: &[&str], countries: &[&str]) -> NetworkRule {
        NetworkRule {
            ip_allowlist: ips.iter().map(|s| (*s).to_owned()).collect(),
            allowed_countries: countries.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_allowlist_admits_its_blocks_only() {
        let r = rule(&["203.0.113.0/24", "2001:db8::/32"], &[]);
        assert_eq!(r.refusal(&client("203.0.113.7", None, false)), None);
        assert_eq!(r.refusal(&client("2001:db8:1::5", None, false)), None);
        assert_eq!(r.refusal(&client("::ffff:203.0.113.9", None, false)), None);
        let why = r.refusal(&client("198.51.100.1", None, false)).unwrap();
        assert!(
            why.contains("198.51.100.1") && why.contains("allowlist"),
            "{why}"
        );
        assert!(r.refusal(&ClientNetwork::default()).is_some());
        assert_eq!(rule(&[], &[]).refusal(&ClientNetwork::default()), None);
    }

    #[test]
    fn countries_count_only_with_a_geoip_database() {
        let r = rule(&[], &["DE", "FR"]);
        assert_eq!(r.refusal(&client("192.0.2.1", None, false)), None);
        assert_eq!(r.refusal(&client("192.0.2.1", Some("DE"), true)), None);
        let why = r.refusal(&client("192.0.2.1", Some("US"), true)).unwrap();
        assert!(why.contains("US"), "{why}");
        assert!(r.refusal(&client("192.0.2.1", None, true)).is_some());
    }
}
