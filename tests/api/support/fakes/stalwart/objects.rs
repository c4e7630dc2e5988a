//! `x:Domain`, `x:Account` and `x:DkimSignature`: `/get`, `/query`, `/set`.
//!
//! What a call may say (methods, arguments, filters, properties, variants, required and
//! `serverSet` properties) is checked against the contract table before it gets here
//! (`contract.rs`), and each `/set` entry as it is applied; these handlers add what the
//! server itself decides (foreign keys, unique names, password strength, linked objects).

use serde_json::{Map, Value, json};

use super::accounts::{create_account, destroy_account, update_account};
use super::contract::{Problem, STALWART};
use super::domains::{create_domain, destroy_domain, update_domain, zone_file};
use super::{Control, MethodError, StalwartState};

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
    control: &Control,
) -> Result<Value, MethodError> {
    let domains = (
        create_domain as Create,
        update_domain as Update,
        destroy_domain as Destroy,
    );
    let accounts = (
        create_account as Create,
        update_account as Update,
        destroy_account as Destroy,
    );
    match method {
        "x:Domain/query" => Ok(query(s, "domains", args)),
        "x:Domain/get" => Ok(get(s, "domains", args)),
        "x:Domain/set" => Ok(set(s, "x:Domain", args, domains, control)),
        "x:Account/query" => Ok(query(s, "accounts", args)),
        "x:Account/get" => Ok(get(s, "accounts", args)),
        "x:Account/set" => Ok(set(s, "x:Account", args, accounts, control)),
        "x:DkimSignature/query" => Ok(query(s, "dkim", args)),
        "x:DkimSignature/get" => Ok(get(s, "dkim", args)),
        _ => Err(MethodError("unknownMethod", method.to_owned())),
    }
}

fn table_of(object_type: &str) -> &'static str {
    match object_type {
        "x:Domain" => "domains",
        "x:Account" => "accounts",
        _ => "dkim",
    }
}

fn table<'a>(s: &'a StalwartState, name: &str) -> &'a std::collections::BTreeMap<String, Value> {
    match name {
        "domains" => &s.domains,
        "accounts" => &s.accounts,
        _ => &s.dkim,
    }
}

/// `/query`: a flat AND filter (its fields checked against the list view beforehand). The
/// domain `name` filter matches substrings (as the real one may), so callers must compare
/// names themselves.
fn query(s: &StalwartState, name: &str, args: &Map<String, Value>) -> Value {
    let empty = Map::new();
    let filter = args
        .get("filter")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
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
    answer
}

/// The most ids one `/query` returns (Stalwart's default, the table's `queryMaxResults`).
pub const QUERY_MAX_RESULTS: usize = 5_000;
/// `maxObjectsInGet`, advertised in the session (the contract check refuses more).
pub const MAX_OBJECTS_IN_GET: usize = 500;

/// `/get` (the ids' count and the property names checked beforehand).
fn get(s: &StalwartState, name: &str, args: &Map<String, Value>) -> Value {
    let objects = table(s, name);
    let ids: Vec<String> = match args.get("ids").and_then(Value::as_array) {
        None => objects.keys().cloned().collect(),
        Some(ids) => ids
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
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
    json!({"accountId": super::ACCOUNT, "state": "s1", "list": list, "notFound": not_found})
}

type Create = fn(&mut StalwartState, &Map<String, Value>) -> Result<Value, SetError>;
type Update = fn(&mut StalwartState, &str, &Map<String, Value>) -> Result<(), SetError>;
type Destroy = fn(&mut StalwartState, &str) -> Result<(), SetError>;

/// `/set`: each create and update is checked against the table first; an entry outside it
/// is a violation, refused with `invalidProperties` naming its properties.
fn set(
    s: &mut StalwartState,
    object_type: &str,
    args: &Map<String, Value>,
    (create, update, destroy): (Create, Update, Destroy),
    control: &Control,
) -> Value {
    let refuse = |what: String, problems: Vec<Problem>| -> SetError {
        let listed: Vec<String> = problems.iter().map(|(p, w)| format!("{p}: {w}")).collect();
        control.violate(format!(
            "stalwart contract: {object_type}/set {what}: {}",
            listed.join("; ")
        ));
        let properties: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        set_error("invalidProperties", &listed.join("; "), &properties)
    };
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (cid, object) in args
        .get("create")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let problems = STALWART.check_create(object_type, object);
        let result = if !problems.is_empty() {
            Err(refuse(format!("create {cid}"), problems))
        } else {
            object
                .as_object()
                .map_or_else(|| Err(invalid("", "not an object")), |o| create(s, o))
        };
        match result {
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
        let patch = patch.as_object().unwrap_or(&empty);
        let problems = match table(s, table_of(object_type)).get(id) {
            Some(current) => STALWART.check_update(object_type, patch, current),
            None => Vec::new(),
        };
        let result = if problems.is_empty() {
            update(s, id, patch)
        } else {
            Err(refuse(format!("update {id}"), problems))
        };
        match result {
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
