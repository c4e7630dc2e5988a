//! The records a domain should publish: MX, SPF and DKIM as Stalwart computes them (from its
//! `dnsZoneFile`, kept in `domains.published`), DMARC from the domain's policy and report
//! addresses, and the ownership token at the apex.

use super::{DmarcPolicy, PublishedRecord, RecordKind};
use crate::upstream::stalwart::DnsRecord;

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRecord {
    /// What it is for.
    pub kind: RecordKind,
    /// Owner name, lower case, no trailing dot.
    pub name: String,
    /// The value to publish (TXT: the whole text, to be split into ≤255-octet strings).
    pub value: String,
}

/// A DNS name as compared here: lower case, no trailing dot.
pub fn dns_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The DMARC record for `policy` and `rua`.
pub fn dmarc_value(policy: DmarcPolicy, rua: &[String]) -> String {
    let mut value = format!("v=DMARC1; p={policy}");
    if !rua.is_empty() {
        let list: Vec<String> = rua.iter().map(|a| format!("mailto:{a}")).collect();
        value.push_str("; rua=");
        value.push_str(&list.join(","));
    }
    value
}

/// The MX, SPF and DKIM records of Stalwart's zone for `domain` (others — SRV, TLSA, CAA,
/// Stalwart's own DMARC — are left out: DMARC is ours to set, the rest is not checked).
pub fn from_zone(domain: &str, records: &[DnsRecord]) -> Vec<PublishedRecord> {
    let apex = dns_name(domain);
    records
        .iter()
        .filter_map(|r| {
            let name = dns_name(&r.name);
            let kind = match r.kind.as_str() {
                "MX" if name == apex => RecordKind::Mx,
                "TXT" if name == apex && is_spf(&r.value) => RecordKind::Spf,
                "TXT" if name.ends_with(&format!("._domainkey.{apex}")) => RecordKind::Dkim,
                _ => return None,
            };
            let value = if kind == RecordKind::Mx {
                dns_name(&r.value)
            } else {
                r.value.clone()
            };
            Some(PublishedRecord { kind, name, value })
        })
        .collect()
}

/// Whether a TXT text is an SPF record (`v=spf1` then a space or the end; case folded).
pub fn is_spf(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// Every record `domain` should publish, in a stable order: MX, SPF, DKIM, DMARC, ownership.
pub fn records(
    domain: &str,
    published: &[PublishedRecord],
    policy: DmarcPolicy,
    rua: &[String],
    ownership_token: &str,
) -> Vec<ExpectedRecord> {
    let mut out: Vec<ExpectedRecord> = published
        .iter()
        .map(|p| ExpectedRecord {
            kind: p.kind,
            name: p.name.clone(),
            value: p.value.clone(),
        })
        .collect();
    out.sort_by_key(|r| {
        let rank = [RecordKind::Mx, RecordKind::Spf, RecordKind::Dkim]
            .iter()
            .position(|k| *k == r.kind)
            .unwrap_or(3);
        (rank, r.name.clone(), r.value.clone())
    });
    out.push(ExpectedRecord {
        kind: RecordKind::Dmarc,
        name: format!("_dmarc.{domain}"),
        value: dmarc_value(policy, rua),
    });
    out.push(ExpectedRecord {
        kind: RecordKind::Ownership,
        name: domain.to_owned(),
        value: ownership_token.to_owned(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, kind: &str, value: &str) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            kind: kind.into(),
            value: value.into(),
        }
    }

    #[test]
    fn picks_mx_spf_and_dkim_from_the_zone_and_adds_dmarc_and_ownership() {
        let zone = [
            rec("Example.com.", "MX", "10 Mail.Example.com."),
            rec("example.com.", "TXT", "v=spf1 mx -all"),
            rec("example.com.", "TXT", "something-else"),
            rec("_dmarc.example.com.", "TXT", "v=DMARC1; p=reject"),
            rec(
                "s1._domainkey.example.com.",
                "TXT",
                "v=DKIM1; k=ed25519; p=abc",
            ),
            rec(
                "_imaps._tcp.example.com.",
                "SRV",
                "0 1 993 mail.example.com.",
            ),
        ];
        let published = from_zone("example.com", &zone);
        assert_eq!(published.len(), 3);
        assert_eq!(published[0].value, "10 mail.example.com");
        let all = records(
            "example.com",
            &published,
            DmarcPolicy::Quarantine,
            &["a@x.example".into(), "b@y.example".into()],
            "tok",
        );
        let kinds: Vec<RecordKind> = all.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::Mx,
                RecordKind::Spf,
                RecordKind::Dkim,
                RecordKind::Dmarc,
                RecordKind::Ownership
            ]
        );
        assert_eq!(
            all[3].value,
            "v=DMARC1; p=quarantine; rua=mailto:a@x.example,mailto:b@y.example"
        );
        assert_eq!(all[3].name, "_dmarc.example.com");
        assert_eq!(dmarc_value(DmarcPolicy::None, &[]), "v=DMARC1; p=none");
        assert!(is_spf("V=SPF1 -all") && is_spf("v=spf1") && !is_spf("v=spf10 -all"));
    }
}
