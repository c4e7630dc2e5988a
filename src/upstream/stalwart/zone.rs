//! Reads the BIND text of `x:Domain.dnsZoneFile` as Stalwart's `BindSerializer` writes it
//! (called by `build_bind_dns_records`): one `<name> IN <TYPE> <data>` line per
//! record, TXT data quoted with `\\` and `\"` escaped, and TXT longer than 255 octets as
//! `(` + one quoted chunk per line + `)`. The chunks of one TXT record are joined with
//! nothing in between (RFC 7208 §3.3, RFC 6376 §3.6.2.2).

/// One DNS record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Fully qualified owner name, with the trailing dot.
    pub name: String,
    /// `MX`, `TXT`, `SRV`, `CNAME`, `TLSA`, `CAA`, …
    pub kind: String,
    /// The record data; for TXT the unquoted, joined text.
    pub value: String,
}

/// Parses zone text; lines it cannot read (comments, `$` directives) are skipped.
pub fn parse(text: &str) -> Vec<DnsRecord> {
    let mut records = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('$') {
            continue;
        }
        let mut parts = line.splitn(4, char::is_whitespace);
        let (Some(name), Some("IN"), Some(kind), Some(data)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let data = data.trim();
        let value = if kind == "TXT" {
            if data == "(" {
                let mut joined = String::new();
                for chunk in lines.by_ref() {
                    let chunk = chunk.trim();
                    if chunk == ")" {
                        break;
                    }
                    joined.push_str(&unquote(chunk));
                }
                joined
            } else {
                unquote(data)
            }
        } else {
            data.to_owned()
        };
        records.push(DnsRecord {
            name: name.to_owned(),
            kind: kind.to_owned(),
            value,
        });
    }
    records
}

/// The text inside the quoted strings of `data`, unescaped and joined.
fn unquote(data: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        match (c, inside) {
            ('"', _) => inside = !inside,
            ('\\', true) => out.extend(chars.next()),
            (c, true) => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stalwarts_bind_output() {
        let long = "p".repeat(300);
        let text = format!(
            "example.com. IN MX 10 mail.example.com.\n\
             example.com. IN TXT \"v=spf1 mx -all\"\n\
             _dmarc.example.com. IN TXT \"v=DMARC1; p=reject; rua=mailto:postmaster@example.com\"\n\
             v1-rsa-20251123._domainkey.example.com. IN TXT (\n    \"v=DKIM1; k=rsa; h=sha256; p={}\"\n    \"{}\"\n)\n\
             ; a comment\n\
             _imaps._tcp.example.com. IN SRV 0 1 993 mail.example.com.\n\
             odd.example.com. IN TXT \"say \\\"hi\\\" \\\\o/\"\n",
            &long[..220],
            &long[220..]
        );
        let records = parse(&text);
        assert_eq!(records.len(), 6);
        assert_eq!(records[0].kind, "MX");
        assert_eq!(records[0].value, "10 mail.example.com.");
        assert_eq!(records[1].value, "v=spf1 mx -all");
        assert_eq!(records[2].name, "_dmarc.example.com.");
        assert_eq!(
            records[3].value,
            format!("v=DKIM1; k=rsa; h=sha256; p={long}")
        );
        assert_eq!(records[4].value, "0 1 993 mail.example.com.");
        assert_eq!(records[5].value, "say \"hi\" \\o/");
    }
}
