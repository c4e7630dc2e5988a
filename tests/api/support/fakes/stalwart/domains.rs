//! `x:Domain` (`schemas["x:Domain"]` in the table) and the DKIM keys and zone file the server
//! derives.

use serde_json::{Map, Value, json};

use super::StalwartState;
use super::objects::{SetError, apply_patch, invalid, set_error};

pub(super) fn create_domain(
    s: &mut StalwartState,
    object: &Map<String, Value>,
) -> Result<Value, SetError> {
    let Some(name) = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(invalid("name", "Missing required property"));
    };
    let name = name.to_ascii_lowercase();
    if std::mem::take(&mut s.another_client_creates_next_domain) {
        // Someone else's create of the same name lands just before this one.
        s.seed_domain(&name);
    }
    if let Some((existing, _)) = s.domains.iter().find(|(_, d)| {
        d["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(&name))
    }) {
        let mut error = set_error(
            "primaryKeyViolation",
            "A domain with this name already exists",
            &["name"],
        );
        error["existingId"] = json!(existing);
        return Err(error);
    }
    let id = s.id("d");
    let mut domain = json!({"id": id, "name": name, "aliases": {}, "isEnabled": true,
        "reportAddressUri": "mailto:postmaster", "dkimManagement": {"@type": "Automatic"},
        "dnsManagement": {"@type": "Manual"}, "createdAt": "2025-11-23T12:00:00Z"});
    for (k, v) in object {
        domain[k.as_str()] = v.clone();
    }
    domain["name"] = json!(name);
    if domain["dkimManagement"]["@type"] == "Automatic" {
        // The real server schedules a DkimManagement task; the fake generates at once.
        for (kind, algorithm, length) in [
            ("Dkim1Ed25519Sha256", "ed25519", 32),
            ("Dkim1RsaSha256", "rsa", 294),
        ] {
            let key_id = s.id("k");
            let public_key = base64_of(length, &key_id);
            let key = json!({"id": key_id, "@type": kind, "domainId": id,
                "selector": format!("v1-{algorithm}-20251123"), "publicKey": public_key,
                "stage": "active", "canonicalization": "relaxed/relaxed"});
            if s.dkim_in_background {
                s.pending_dkim.push((key_id, key));
            } else {
                s.dkim.insert(key_id, key);
            }
        }
    }
    s.domains.insert(id.clone(), domain);
    Ok(json!({"id": id, "createdAt": "2025-11-23T12:00:00Z"}))
}

pub(super) fn update_domain(
    s: &mut StalwartState,
    id: &str,
    patch: &Map<String, Value>,
) -> Result<(), SetError> {
    let domain = s
        .domains
        .get_mut(id)
        .ok_or_else(|| set_error("notFound", "", &[]))?;
    apply_patch(domain, patch)
}

pub(super) fn destroy_domain(s: &mut StalwartState, id: &str) -> Result<(), SetError> {
    if !s.domains.contains_key(id) {
        return Err(set_error("notFound", "", &[]));
    }
    let linked: Vec<&String> = s
        .accounts
        .iter()
        .filter(|(_, a)| a["domainId"] == id)
        .map(|(k, _)| k)
        .collect();
    if !linked.is_empty() {
        let mut error = set_error("objectIsLinked", "Domain is in use", &[]);
        error["linkedObjects"] = json!({ "x:Account": linked });
        return Err(error);
    }
    s.domains.remove(id);
    s.dkim.retain(|_, k| k["domainId"] != id);
    Ok(())
}

fn base64_of(length: usize, seed: &str) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = (0..length)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed.len() as u8)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What `build_bind_dns_records` would produce, in `BindSerializer`'s format (long TXT
/// split into 255-octet chunks).
pub(super) fn zone_file(s: &StalwartState, id: &str) -> String {
    let domain = &s.domains[id];
    let name = domain["name"].as_str().unwrap_or_default();
    let mut rua = domain["reportAddressUri"]
        .as_str()
        .unwrap_or("mailto:postmaster")
        .to_owned();
    if !rua.contains('@') {
        rua = format!("{rua}@{name}");
    }
    let txt = |owner: String, text: String| {
        if text.len() <= 255 {
            format!("{owner} IN TXT \"{text}\"\n")
        } else {
            let chunks: Vec<String> = text
                .as_bytes()
                .chunks(255)
                .map(|c| format!("    \"{}\"\n", String::from_utf8_lossy(c)))
                .collect();
            format!("{owner} IN TXT (\n{})\n", chunks.concat())
        }
    };
    let mut out = String::new();
    for key in s.dkim.values().filter(|k| k["domainId"] == id) {
        let algorithm = if key["@type"].as_str().unwrap_or_default().contains("Rsa") {
            "rsa"
        } else {
            "ed25519"
        };
        out.push_str(&txt(
            format!(
                "{}._domainkey.{name}.",
                key["selector"].as_str().unwrap_or_default()
            ),
            format!(
                "v=DKIM1; k={algorithm}; h=sha256; p={}",
                key["publicKey"].as_str().unwrap_or_default()
            ),
        ));
    }
    out.push_str(&format!("{name}. IN MX 10 mail.{name}.\n"));
    out.push_str(&txt(format!("{name}."), "v=spf1 mx -all".into()));
    out.push_str(&txt(
        format!("_dmarc.{name}."),
        format!("v=DMARC1; p=reject; rua={rua}"),
    ));
    out.push_str(&txt(
        format!("_smtp._tls.{name}."),
        format!("v=TLSRPTv1; rua={rua}"),
    ));
    out
}
