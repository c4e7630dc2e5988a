//! A tiny MaxMind DB (MMDB, format 2.0) written here, for the country rule: an IPv4 search
//! tree with 24-bit records, a data section of `{ "country": { "iso_code": .. } }` maps and
//! the metadata map, as the published specification lays them out
//! (`maxmind.github.io/MaxMind-DB`). The server reads it with the `maxminddb` crate like a
//! GeoLite2 Country file.

use std::net::Ipv4Addr;

enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

/// An MMDB of IPv4 networks and their countries.
#[derive(Default)]
pub struct Mmdb {
    networks: Vec<(Ipv4Addr, u8, String)>,
}

impl Mmdb {
    /// Places `network/prefix` in `country` (ISO 3166-1 alpha-2).
    pub fn country(mut self, network: &str, country: &str) -> Self {
        let (ip, prefix) = network.split_once('/').expect("a CIDR block");
        self.networks.push((
            ip.parse().unwrap(),
            prefix.parse().unwrap(),
            country.to_owned(),
        ));
        self
    }

    /// The file's bytes.
    pub fn build(&self) -> Vec<u8> {
        // Data section: one record per network.
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for (_, _, country) in &self.networks {
            offsets.push(data.len());
            map(&mut data, 1);
            string(&mut data, "country");
            map(&mut data, 1);
            string(&mut data, "iso_code");
            string(&mut data, country);
        }
        // Search tree: node 0 is the root; each network is a path of its prefix bits.
        let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty, Record::Empty]];
        for ((ip, prefix, _), offset) in self.networks.iter().zip(&offsets) {
            let bits = u32::from(*ip);
            let mut node = 0;
            for depth in 0..*prefix {
                let bit = ((bits >> (31 - depth)) & 1) as usize;
                if depth + 1 == *prefix {
                    nodes[node][bit] = Record::Data(*offset);
                } else {
                    node = match nodes[node][bit] {
                        Record::Node(next) => next,
                        _ => {
                            nodes.push([Record::Empty, Record::Empty]);
                            let next = nodes.len() - 1;
                            nodes[node][bit] = Record::Node(next);
                            next
                        }
                    };
                }
            }
        }
        let count = nodes.len();
        let value = |r: &Record| -> u32 {
            match r {
                Record::Empty => count as u32,
                Record::Node(n) => *n as u32,
                Record::Data(offset) => (count + 16 + offset) as u32,
            }
        };
        let mut out = Vec::new();
        for node in &nodes {
            for record in node {
                out.extend_from_slice(&value(record).to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        map(&mut out, 9);
        string(&mut out, "binary_format_major_version");
        unsigned(&mut out, 5, 2);
        string(&mut out, "binary_format_minor_version");
        unsigned(&mut out, 5, 0);
        string(&mut out, "build_epoch");
        extended(&mut out, 9, 8);
        out.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        string(&mut out, "database_type");
        string(&mut out, "Test-Country");
        string(&mut out, "description");
        map(&mut out, 1);
        string(&mut out, "en");
        string(&mut out, "platform-api test database");
        string(&mut out, "ip_version");
        unsigned(&mut out, 5, 4);
        string(&mut out, "languages");
        extended(&mut out, 11, 1);
        string(&mut out, "en");
        string(&mut out, "node_count");
        unsigned(&mut out, 6, count as u64);
        string(&mut out, "record_size");
        unsigned(&mut out, 5, 24);
        out
    }
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 29, "sizes of 29 and more are not needed here");
    out.push((kind << 5) | size as u8);
}

fn extended(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 29);
    out.push(size as u8);
    out.push(kind - 7);
}

fn map(out: &mut Vec<u8>, pairs: usize) {
    control(out, 7, pairs);
}

fn string(out: &mut Vec<u8>, s: &str) {
    control(out, 2, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// An unsigned integer of `kind` (5 = uint16, 6 = uint32) in as few bytes as it needs.
fn unsigned(out: &mut Vec<u8>, kind: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}
