//! The country of a client address, from a MaxMind-format database (`GEOIP_DATABASE`: a
//! GeoLite2/GeoIP2 Country or City file, or any MMDB whose records carry
//! `country.iso_code`). Read once at start; lookups are in memory.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::Reader;

/// An opened GeoIP database.
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.reader.metadata.database_type)
            .finish()
    }
}

impl GeoIp {
    /// Opens `path`; an unreadable or malformed file is an error (the process does not start
    /// with a country rule it cannot enforce).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = Reader::open_readfile(path)
            .map_err(|e| anyhow::anyhow!("GEOIP_DATABASE {}: {e}", path.display()))?;
        Ok(Self { reader })
    }

    /// From the bytes of a database.
    pub fn from_bytes(bytes: Vec<u8>) -> anyhow::Result<Self> {
        let reader =
            Reader::from_source(bytes).map_err(|e| anyhow::anyhow!("GeoIP database: {e}"))?;
        Ok(Self { reader })
    }

    /// The ISO 3166-1 alpha-2 code of `ip`'s country, upper case; `None` when the database
    /// has no record for it (private ranges, an IPv6 address in an IPv4 database).
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let found = self.reader.lookup(ip).ok()?;
        let record: maxminddb::geoip2::Country<'_> = found.decode().ok()??;
        record.country.iso_code.map(str::to_ascii_uppercase)
    }
}
