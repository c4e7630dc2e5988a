//! `x:Domain`, `x:Account` and `x:DkimSignature`: `/get`, `/query`, `/set`.
//!
//! Property lists from the 0.16 registry schema (`fields["x:Domain"]`,
//! `fields["x:UserAccount"]`, `fields["x:Dkim1Signature"]`): `serverSet` properties cannot be
//! written; non-nullable properties without a default (`name`, `domainId`) are required on
//! create; enum-typed objects (`@type`) take only the variants the schema lists.

use serde_json::{Map, Value, json};

use super::accounts::{create_account, destroy_account, update_account};
use super::domains::{create_domain, destroy_domain, update_domain, zone_file};
use super::{MethodError, StalwartState};

pub(super) type SetError = Value;

pub(super) fn set_error(kind: &str, description: &str, properties: &[&str]) -> SetError {
    let mut error = json!({ "type": kind, "description": description });
    if !properties.is_empty() {
        error["properties"] = json!(properties);
    }
    error
}

pub(super) fn invalid(property: &str, description: &str) -> SetError {
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
    let all: Vec<&String> = table(s, name)
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
    // RFC 8620 §5.5: `position` and `limit` page the ids; the server caps `limit` at its own
    // maximum (Stalwart: 5,000) without saying so; `total` only when `calculateTotal`.
    let position = args.get("position").and_then(Value::as_u64).unwrap_or(0) as usize;
    let limit = args
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(QUERY_MAX_RESULTS, |l| (l as usize).min(QUERY_MAX_RESULTS));
    let ids: Vec<&String> = all.iter().skip(position).take(limit).copied().collect();
    let mut answer = json!({"accountId": super::ACCOUNT, "queryState": "q1",
        "canCalculateChanges": false, "position": position, "ids": ids});
    if args.get("calculateTotal") == Some(&Value::Bool(true)) {
        answer["total"] = json!(all.len());
    }
    Ok(answer)
}

/// The most ids one `/query` returns (Stalwart's default), and the most one `/get` takes
/// (`maxObjectsInGet`, advertised in the session).
pub const QUERY_MAX_RESULTS: usize = 5_000;
/// `maxObjectsInGet`.
pub const MAX_OBJECTS_IN_GET: usize = 500;

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
    if ids.len() > MAX_OBJECTS_IN_GET {
        return Err(MethodError(
            "requestTooLarge",
            format!("{} ids; at most {MAX_OBJECTS_IN_GET} per get", ids.len()),
        ));
    }
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

pub(super) fn check_properties(
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

pub(super) fn variant(
    object: &Map<String, Value>,
    property: &str,
    variants: &[&str],
) -> Result<(), SetError> {
    match object.get(property) {
        None => Ok(()),
        Some(v) if v["@type"].as_str().is_some_and(|t| variants.contains(&t)) => Ok(()),
        Some(_) => Err(invalid(property, "Invalid @type")),
    }
}

/// A JMAP patch: `a/b/c` paths into nested objects; `null` removes.
pub(super) fn apply_patch(object: &mut Value, patch: &Map<String, Value>) -> Result<(), SetError> {
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
