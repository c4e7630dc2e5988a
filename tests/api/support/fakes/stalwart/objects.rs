//! `x:Domain`, `x:Account` and `x:DkimSignature`: `/get`, `/query`, `/set`.
//!
//! Property lists from the 0.16 registry schema (`fields["x:Domain"]`,
//! `fields["x:UserAccount"]`, `fields["x:Dkim1Signature"]`): `serverSet` properties cannot be
//! written; non-nullable properties without a default (`name`, `domainId`) are required on
//! create; enum-typed objects (`@type`) take only the variants the schema lists.

use serde_json::{Map, Value, json};

use super::{MethodError, StalwartState};

const DOMAIN_PROPERTIES: &[&str] = &[
    "name",
    "aliases",
    "isEnabled",
    "description",
    "logo",
    "catchAllAddress",
    "subAddressing",
    "allowRelaying",
    "reportAddressUri",
    "certificateManagement",
    "dkimManagement",
    "dnsManagement",
    "directoryId",
    "memberTenantId",
];
const DOMAIN_SERVER_SET: &[&str] = &["createdAt", "dnsZoneFile"];
const USER_PROPERTIES: &[&str] = &[
    "name",
    "domainId",
    "credentials",
    "memberGroupIds",
    "roles",
    "permissions",
    "quotas",
    "aliases",
    "description",
    "locale",
    "timeZone",
    "encryptionAtRest",
    "memberTenantId",
];
const USER_SERVER_SET: &[&str] = &["createdAt", "emailAddress", "usedDiskQuota"];
/// `enums.StorageQuota`.
const STORAGE_QUOTAS: &[&str] = &[
    "maxEmails",
    "maxMailboxes",
    "maxEmailSubmissions",
    "maxEmailIdentities",
    "maxParticipantIdentities",
    "maxSieveScripts",
    "maxPushSubscriptions",
    "maxCalendars",
    "maxCalendarEvents",
    "maxCalendarEventNotifications",
    "maxAddressBooks",
    "maxContactCards",
    "maxFiles",
    "maxFolders",
    "maxMaskedAddresses",
    "maxAppPasswords",
    "maxApiKeys",
    "maxPublicKeys",
    "maxDiskQuota",
];

type SetError = Value;

fn set_error(kind: &str, description: &str, properties: &[&str]) -> SetError {
    let mut error = json!({ "type": kind, "description": description });
    if !properties.is_empty() {
        error["properties"] = json!(properties);
    }
    error
}

fn invalid(property: &str, description: &str) -> SetError {
    set_error("invalidProperties", description, &[property])
}

pub fn dispatch(
    s: &mut StalwartState,
    method: &str,
    args: &Map<String, Value>,
) -> Result<Value, MethodError> {
    match method {
        "x:Domain/query" => query(s, "domains", args, &["name", "text", "memberTenantId"]),
        "x:Domain/get" => get(s, "domains", args),
        "x:Domain/set" => Ok(set(s, args, create_domain, update_domain, destroy_domain)),
        "x:Account/query" => query(s, "accounts", args, &["name", "text", "domainId", "@type"]),
        "x:Account/get" => get(s, "accounts", args),
        "x:Account/set" => Ok(set(
            s,
            args,
            create_account,
            update_account,
            destroy_account,
        )),
        "x:DkimSignature/query" => query(s, "dkim", args, &["domainId", "memberTenantId"]),
        "x:DkimSignature/get" => get(s, "dkim", args),
        _ => Err(MethodError("unknownMethod", method.to_owned())),
    }
}

fn table<'a>(s: &'a StalwartState, name: &str) -> &'a std::collections::BTreeMap<String, Value> {
    match name {
        "domains" => &s.domains,
        "accounts" => &s.accounts,
        _ => &s.dkim,
    }
}

/// `/query`: a flat AND filter. The domain `name` filter matches substrings (as the real
/// one may), so callers must compare names themselves.
fn query(
    s: &StalwartState,
    name: &str,
    args: &Map<String, Value>,
    filters: &[&str],
) -> Result<Value, MethodError> {
    let empty = Map::new();
    let filter = args
        .get("filter")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(unknown) = filter.keys().find(|k| !filters.contains(&k.as_str())) {
        return Err(MethodError("unsupportedFilter", unknown.clone()));
    }
    let ids: Vec<&String> = table(s, name)
        .iter()
        .filter(|(_, object)| {
            filter
                .iter()
                .all(|(key, wanted)| match (name, key.as_str()) {
                    ("domains", "name") | (_, "text") => object["name"]
                        .as_str()
                        .zip(wanted.as_str())
                        .is_some_and(|(have, want)| have.contains(want)),
                    _ => object[key.as_str()] == *wanted,
                })
        })
        .map(|(id, _)| id)
        .collect();
    Ok(
        json!({"accountId": super::ACCOUNT, "queryState": "q1", "canCalculateChanges": false,
              "position": 0, "total": ids.len(), "ids": ids}),
    )
}

fn get(s: &StalwartState, name: &str, args: &Map<String, Value>) -> Result<Value, MethodError> {
    let objects = table(s, name);
    let ids: Vec<String> = match args.get("ids") {
        None | Some(Value::Null) => objects.keys().cloned().collect(),
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err(MethodError("invalidArguments", "ids".into())),
    };
    let properties: Option<Vec<&str>> = args
        .get("properties")
        .and_then(Value::as_array)
        .map(|p| p.iter().filter_map(Value::as_str).collect());
    let (mut list, mut not_found) = (Vec::new(), Vec::new());
    for id in ids {
        let Some(object) = objects.get(&id) else {
            not_found.push(id);
            continue;
        };
        let mut full = object.clone();
        if name == "domains" {
            full["dnsZoneFile"] = json!(zone_file(s, &id));
        }
        let shown: Map<String, Value> = full
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| {
                k.as_str() == "id" || properties.as_ref().is_none_or(|p| p.contains(&k.as_str()))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        list.push(Value::Object(shown));
    }
    Ok(json!({"accountId": super::ACCOUNT, "state": "s1", "list": list, "notFound": not_found}))
}

type Create = fn(&mut StalwartState, &Map<String, Value>) -> Result<Value, SetError>;
type Update = fn(&mut StalwartState, &str, &Map<String, Value>) -> Result<(), SetError>;
type Destroy = fn(&mut StalwartState, &str) -> Result<(), SetError>;

fn set(
    s: &mut StalwartState,
    args: &Map<String, Value>,
    create: Create,
    update: Update,
    destroy: Destroy,
) -> Value {
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (cid, object) in args
        .get("create")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        match object
            .as_object()
            .map_or_else(|| Err(invalid("", "not an object")), |o| create(s, o))
        {
            Ok(answer) => created.insert(cid.clone(), answer),
            Err(error) => not_created.insert(cid.clone(), error),
        };
    }
    let (mut updated, mut not_updated) = (Map::new(), Map::new());
    for (id, patch) in args
        .get("update")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let empty = Map::new();
        match update(s, id, patch.as_object().unwrap_or(&empty)) {
            Ok(()) => updated.insert(id.clone(), Value::Null),
            Err(error) => not_updated.insert(id.clone(), error),
        };
    }
    let (mut destroyed, mut not_destroyed) = (Vec::new(), Map::new());
    for id in args
        .get("destroy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = id.as_str().unwrap_or_default();
        match destroy(s, id) {
            Ok(()) => destroyed.push(json!(id)),
            Err(error) => {
                not_destroyed.insert(id.to_owned(), error);
            }
        }
    }
    json!({"accountId": super::ACCOUNT, "oldState": "s1", "newState": "s2",
           "created": created, "notCreated": not_created, "updated": updated,
           "notUpdated": not_updated, "destroyed": destroyed, "notDestroyed": not_destroyed})
}

fn check_properties(
    object: &Map<String, Value>,
    allowed: &[&str],
    server_set: &[&str],
) -> Result<(), SetError> {
    for key in object.keys().filter(|k| k.as_str() != "@type") {
        let head = key.split('/').next().unwrap_or_default();
        if server_set.contains(&head) {
            return Err(invalid(key, "Property is server-set"));
        }
        if !allowed.contains(&head) {
            return Err(invalid(key, "Unknown property"));
        }
    }
    Ok(())
}

fn variant(object: &Map<String, Value>, property: &str, variants: &[&str]) -> Result<(), SetError> {
    match object.get(property) {
        None => Ok(()),
        Some(v) if v["@type"].as_str().is_some_and(|t| variants.contains(&t)) => Ok(()),
        Some(_) => Err(invalid(property, "Invalid @type")),
    }
}

fn create_domain(s: &mut StalwartState, object: &Map<String, Value>) -> Result<Value, SetError> {
    check_properties(object, DOMAIN_PROPERTIES, DOMAIN_SERVER_SET)?;
    let Some(name) = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(invalid("name", "Missing required property"));
    };
    variant(object, "dkimManagement", &["Automatic", "Manual"])?;
    variant(object, "dnsManagement", &["Automatic", "Manual"])?;
    let name = name.to_ascii_lowercase();
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
            s.dkim.insert(
                key_id.clone(),
                json!({"id": key_id, "@type": kind, "domainId": id,
                "selector": format!("v1-{algorithm}-20251123"), "publicKey": public_key,
                "stage": "active", "canonicalization": "relaxed/relaxed"}),
            );
        }
    }
    s.domains.insert(id.clone(), domain);
    Ok(json!({"id": id, "createdAt": "2025-11-23T12:00:00Z"}))
}

fn update_domain(
    s: &mut StalwartState,
    id: &str,
    patch: &Map<String, Value>,
) -> Result<(), SetError> {
    check_properties(patch, DOMAIN_PROPERTIES, DOMAIN_SERVER_SET)?;
    let domain = s
        .domains
        .get_mut(id)
        .ok_or_else(|| set_error("notFound", "", &[]))?;
    apply_patch(domain, patch)
}

fn destroy_domain(s: &mut StalwartState, id: &str) -> Result<(), SetError> {
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

fn create_account(s: &mut StalwartState, object: &Map<String, Value>) -> Result<Value, SetError> {
    if !matches!(
        object.get("@type").and_then(Value::as_str),
        Some("User" | "Group")
    ) {
        return Err(invalid("@type", "Missing or invalid @type"));
    }
    check_properties(object, USER_PROPERTIES, USER_SERVER_SET)?;
    let Some(name) = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(invalid("name", "Missing required property"));
    };
    let Some(domain_id) = object.get("domainId").and_then(Value::as_str) else {
        return Err(invalid("domainId", "Missing required property"));
    };
    let Some(domain) = s.domains.get(domain_id) else {
        return Err(set_error(
            "invalidForeignKey",
            "Domain does not exist",
            &["domainId"],
        ));
    };
    let email = format!("{name}@{}", domain["name"].as_str().unwrap_or_default());
    if s.accounts
        .values()
        .any(|a| a["emailAddress"] == email.as_str())
    {
        return Err(set_error(
            "primaryKeyViolation",
            "An account with this name already exists",
            &["name"],
        ));
    }
    let mut account = Value::Object(object.clone());
    // Collections default to empty, so patches like `quotas/maxDiskQuota` have a parent.
    for collection in ["credentials", "quotas", "aliases", "memberGroupIds"] {
        if account.get(collection).is_none_or(Value::is_null) {
            account[collection] = json!({});
        }
    }
    let password = check_account(&mut account)?;
    let id = s.id("a");
    account["id"] = json!(id);
    account["emailAddress"] = json!(email);
    account["createdAt"] = json!("2025-11-23T12:00:00Z");
    if let Some(password) = password {
        s.passwords.insert(id.clone(), password);
    }
    s.accounts.insert(id.clone(), account);
    Ok(json!({"id": id, "emailAddress": email, "createdAt": "2025-11-23T12:00:00Z"}))
}

/// Validates credentials, quotas, roles and permissions; masks the password and returns its
/// plaintext (Stalwart checks strength, then hashes).
fn check_account(account: &mut Value) -> Result<Option<String>, SetError> {
    let object = account.as_object().unwrap().clone();
    variant(&object, "permissions", &["Inherit", "Merge", "Replace"])?;
    variant(&object, "roles", &["User", "Admin", "Custom", "Default"])?;
    for (key, value) in object
        .get("quotas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if !STORAGE_QUOTAS.contains(&key.as_str()) || (!value.is_u64() && !value.is_null()) {
            return Err(invalid(&format!("quotas/{key}"), "Invalid quota"));
        }
    }
    let mut password = None;
    let mut passwords = 0;
    for (key, credential) in account["credentials"].as_object_mut().into_iter().flatten() {
        if key.parse::<u32>().is_err() {
            return Err(invalid("credentials", "A list is keyed by index"));
        }
        match credential["@type"].as_str() {
            Some("Password") => passwords += 1,
            Some("AppPassword" | "ApiKey") => {
                return Err(invalid(
                    &format!("credentials/{key}"),
                    "Cannot be created through credentials",
                ));
            }
            _ => return Err(invalid(&format!("credentials/{key}"), "Invalid @type")),
        }
        if let Some(secret) = credential["secret"].as_str().filter(|s| *s != "********") {
            if secret.len() < 8 {
                return Err(invalid(
                    &format!("credentials/{key}/secret"),
                    "Password is too weak",
                ));
            }
            password = Some(secret.to_owned());
            credential["secret"] = json!("********");
            credential["credentialId"] = json!(format!("cred-{key}"));
        }
    }
    if passwords > 1 {
        return Err(invalid(
            "credentials",
            "Only one password credential is allowed",
        ));
    }
    Ok(password)
}

fn update_account(
    s: &mut StalwartState,
    id: &str,
    patch: &Map<String, Value>,
) -> Result<(), SetError> {
    check_properties(patch, USER_PROPERTIES, USER_SERVER_SET)?;
    let mut account = s
        .accounts
        .get(id)
        .cloned()
        .ok_or_else(|| set_error("notFound", "", &[]))?;
    apply_patch(&mut account, patch)?;
    if let Some(password) = check_account(&mut account)? {
        s.passwords.insert(id.to_owned(), password);
    }
    s.accounts.insert(id.to_owned(), account);
    Ok(())
}

fn destroy_account(s: &mut StalwartState, id: &str) -> Result<(), SetError> {
    s.accounts
        .remove(id)
        .map(drop)
        .ok_or_else(|| set_error("notFound", "", &[]))
}

/// A JMAP patch: `a/b/c` paths into nested objects; `null` removes.
fn apply_patch(object: &mut Value, patch: &Map<String, Value>) -> Result<(), SetError> {
    for (path, value) in patch {
        let segments: Vec<&str> = path.split('/').collect();
        let (last, parents) = segments.split_last().unwrap();
        let mut target = &mut *object;
        for segment in parents {
            target = target
                .get_mut(*segment)
                .filter(|t| t.is_object())
                .ok_or_else(|| set_error("invalidPatch", &format!("No such path {path}"), &[]))?;
        }
        let map = target.as_object_mut().unwrap();
        if value.is_null() {
            map.remove(*last);
        } else {
            map.insert((*last).to_owned(), value.clone());
        }
    }
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
fn zone_file(s: &StalwartState, id: &str) -> String {
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
