//! The contract table generator: reads the published upstream documents (Authentik's and
//! libregraph's OpenAPI, Stalwart's registry schema) and keeps, per operation the adapters or
//! fakes use, the facts the fakes check — path, method, query parameters, the request body's
//! required, read-only and enum fields, and the response shapes — plus Stripe's documented
//! rules. The documents stay outside the project; the table is committed as
//! `tests/api/fixtures/contracts/upstream-contracts.json` with the versions it came from.
//!
//! Regenerate: `UPDATE_CONTRACTS=1 cargo test --test api upstream::contract::table_is_current`
//! (reads `$UPSTREAM_SPECS_DIR`, default `../shared/upstream-specs` beside the project).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// The committed table.
pub const TABLE: &str = "tests/api/fixtures/contracts/upstream-contracts.json";

const AUTHENTIK_FILE: &str = "authentik-2025.10.4-openapi.yml";
const LIBREGRAPH_FILE: &str = "libregraph-v1.0-openapi.yaml";
const STALWART_FILE: &str = "stalwart-0.16-registry-schema.json.gz";

/// Authentik operations (method, path under `/api/v3`) the adapter calls or the fake serves.
const AUTHENTIK_OPERATIONS: &[(&str, &str)] = &[
    ("get", "/core/groups/"),
    ("post", "/core/groups/"),
    ("get", "/core/groups/{group_uuid}/"),
    ("delete", "/core/groups/{group_uuid}/"),
    ("post", "/core/groups/{group_uuid}/add_user/"),
    ("post", "/core/groups/{group_uuid}/remove_user/"),
    ("get", "/core/users/"),
    ("post", "/core/users/"),
    ("get", "/core/users/me/"),
    ("get", "/core/users/{id}/"),
    ("patch", "/core/users/{id}/"),
    ("delete", "/core/users/{id}/"),
    ("post", "/core/users/{id}/set_password/"),
    ("get", "/core/authenticated_sessions/"),
    ("delete", "/core/authenticated_sessions/{uuid}/"),
    ("get", "/authenticators/admin/all/"),
    ("get", "/providers/oauth2/"),
    ("post", "/providers/oauth2/"),
    ("patch", "/providers/oauth2/{id}/"),
    ("delete", "/providers/oauth2/{id}/"),
    ("get", "/core/applications/"),
    ("post", "/core/applications/"),
    ("get", "/core/applications/{slug}/"),
    ("patch", "/core/applications/{slug}/"),
    ("delete", "/core/applications/{slug}/"),
    ("get", "/policies/bindings/"),
    ("post", "/policies/bindings/"),
    ("delete", "/policies/bindings/{policy_binding_uuid}/"),
    ("get", "/flows/instances/"),
    ("get", "/crypto/certificatekeypairs/"),
    ("get", "/propertymappings/provider/scope/"),
];

/// libregraph operations (method, path under `/graph`).
const LIBREGRAPH_OPERATIONS: &[(&str, &str)] = &[
    ("get", "/v1.0/drives"),
    ("post", "/v1.0/drives"),
    ("get", "/v1.0/drives/{drive-id}"),
    ("patch", "/v1.0/drives/{drive-id}"),
    ("get", "/v1.0/me"),
    ("post", "/v1.0/users"),
    ("get", "/v1.0/users/{user-id}"),
    ("patch", "/v1.0/users/{user-id}"),
    ("delete", "/v1.0/users/{user-id}"),
    ("get", "/v1beta1/drives/{drive-id}/root/permissions"),
    (
        "patch",
        "/v1beta1/drives/{drive-id}/root/permissions/{perm-id}",
    ),
    (
        "delete",
        "/v1beta1/drives/{drive-id}/root/permissions/{perm-id}",
    ),
    ("post", "/v1beta1/drives/{drive-id}/root/invite"),
];

/// Stalwart registry objects the adapter uses: the object, its list view (filters), and the
/// `@type` variants kept (`None`: the object has one schema).
const STALWART_OBJECTS: &[(&str, &str, Option<&[&str]>)] = &[
    ("x:Domain", "x:Domain", None),
    ("x:Account", "x:Account/User", Some(&["User"])),
    (
        "x:DkimSignature",
        "x:DkimSignature",
        Some(&["Dkim1Ed25519Sha256", "Dkim1RsaSha256"]),
    ),
];

/// Enums with more values than this are named, not listed (locales, time zones).
const MAX_ENUM: usize = 64;

/// Where the documents are.
pub fn specs_dir() -> PathBuf {
    match std::env::var_os("UPSTREAM_SPECS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream-specs"),
    }
}

/// Whether every document is present.
pub fn specs_present(dir: &Path) -> bool {
    [AUTHENTIK_FILE, LIBREGRAPH_FILE, STALWART_FILE]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// The table, as committed (JSON text).
pub fn generate(dir: &Path) -> String {
    let authentik = yaml(&dir.join(AUTHENTIK_FILE));
    let libregraph = yaml(&dir.join(LIBREGRAPH_FILE));
    let stalwart = gunzip_json(&dir.join(STALWART_FILE));
    let table = json!({
        "generated_by": "tests/api/upstream/contract/generate.rs — do not edit; regenerate with \
            UPDATE_CONTRACTS=1 cargo test --test api upstream::contract::table_is_current",
        "sources": {
            "authentik": { "file": AUTHENTIK_FILE, "version": authentik["info"]["version"] },
            "libregraph": { "file": LIBREGRAPH_FILE, "version": libregraph["info"]["version"] },
            "stalwart": { "file": STALWART_FILE, "version": "0.16" },
            "stripe": { "file": "../shared/upstreams.md §4 (docs.stripe.com/api)", "version": "v1" },
        },
        "authentik": openapi(&authentik, "/api/v3", AUTHENTIK_OPERATIONS),
        "libregraph": openapi(&libregraph, "/graph", LIBREGRAPH_OPERATIONS),
        "stalwart": stalwart_table(&stalwart),
        "stripe": stripe_rules(),
    });
    let mut out = String::new();
    write(&mut out, &table, 0);
    out.push('\n');
    out
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let value: serde_norway::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    to_json(value)
}

/// YAML to JSON, with every map key as text (status codes may be numbers in YAML).
fn to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => to_json(tagged.value),
    }
}

fn gunzip_json(path: &Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

// ---------------------------------------------------------------------------------------
// OpenAPI

struct Reader<'a> {
    doc: &'a Value,
    /// Named schemas reached so far, converted.
    schemas: BTreeMap<String, Value>,
    pending: BTreeSet<String>,
}

fn openapi(doc: &Value, base: &str, selected: &[(&str, &str)]) -> Value {
    let mut reader = Reader {
        doc,
        schemas: BTreeMap::new(),
        pending: BTreeSet::new(),
    };
    let mut operations = Vec::new();
    for (method, path) in selected {
        let op = &doc["paths"][*path][*method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        operations.push(reader.operation(method, path, op));
    }
    while let Some(name) = reader.pending.pop_first() {
        if reader.schemas.contains_key(&name) {
            continue;
        }
        let raw = doc["components"]["schemas"][&name].clone();
        let converted = reader.schema(&raw);
        reader.schemas.insert(name, converted);
    }
    json!({ "base": base, "operations": operations, "schemas": reader.schemas })
}

impl Reader<'_> {
    fn operation(&mut self, method: &str, path: &str, op: &Value) -> Value {
        let mut query = Map::new();
        let mut path_params = Vec::new();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for param in params {
            let param = self.resolve(&param);
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            match param["in"].as_str() {
                Some("query") => {
                    query.insert(name, self.schema(&param["schema"]));
                }
                Some("path") => path_params.push(Value::String(name)),
                _ => {}
            }
        }
        let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
        let body = (!body.is_null()).then(|| self.schema(&body));
        let mut responses = Map::new();
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            let response = self.resolve(response);
            let schema = &response["content"]["application/json"]["schema"];
            let shape = if schema.is_null() {
                Value::Null
            } else {
                self.schema(schema)
            };
            responses.insert(status.clone(), shape);
        }
        json!({
            "id": op["operationId"],
            "method": method.to_ascii_uppercase(),
            "path": path,
            "path_params": path_params,
            "query": query,
            "body": body,
            "body_required": op["requestBody"]["required"].as_bool().unwrap_or(false),
            "responses": responses,
        })
    }

    /// Follows a `$ref` to a parameter or response.
    fn resolve(&self, value: &Value) -> Value {
        match value["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.doc.pointer(pointer).cloned().unwrap_or(Value::Null)
            }
            None => value.clone(),
        }
    }

    /// A schema reduced to what the fakes check: `ref` to a named schema, `type`, `nullable`,
    /// `read_only`, `enum`, `min_length`/`max_length`, `items`, `properties` + `required`,
    /// `additional` (whether unknown properties are allowed). `allOf` with one member is
    /// that member (OpenAPI's way to add a description to a `$ref`); `oneOf`/`anyOf` are `any`.
    fn schema(&mut self, raw: &Value) -> Value {
        let mut out = Map::new();
        if let Some(reference) = raw["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or_default().to_owned();
            if !self.schemas.contains_key(&name) {
                self.pending.insert(name.clone());
            }
            let mut reference = json!({ "ref": name });
            add_flags(raw, &mut reference);
            return reference;
        }
        if let Some([only]) = raw["allOf"].as_array().map(Vec::as_slice) {
            let mut inner = self.schema(only);
            add_flags(raw, &mut inner);
            return inner;
        }
        if raw.get("oneOf").is_some() || raw.get("anyOf").is_some() || raw.get("allOf").is_some() {
            out.insert("type".into(), json!("any"));
        } else if let Some(kind) = raw["type"].as_str() {
            out.insert("type".into(), json!(kind));
        } else if raw.get("properties").is_some() {
            out.insert("type".into(), json!("object"));
        } else {
            out.insert("type".into(), json!("any"));
        }
        for (from, to) in [
            ("nullable", "nullable"),
            ("readOnly", "read_only"),
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
            ("enum", "enum"),
        ] {
            if let Some(v) = raw.get(from).filter(|v| !v.is_null() && **v != false) {
                out.insert(to.into(), v.clone());
            }
        }
        if let Some(items) = raw.get("items") {
            let items = self.schema(items);
            out.insert("items".into(), items);
        }
        if let Some(properties) = raw["properties"].as_object() {
            let mut props = Map::new();
            for (name, prop) in properties {
                let prop = self.schema(prop);
                props.insert(name.clone(), prop);
            }
            out.insert("properties".into(), Value::Object(props));
            let required = raw["required"].clone();
            if required.is_array() {
                out.insert("required".into(), required);
            }
            let additional = !matches!(raw.get("additionalProperties"), Some(Value::Bool(false)))
                && raw.get("additionalProperties").is_some();
            if additional {
                out.insert("additional".into(), json!(true));
            }
        } else if out["type"] == "object" {
            out.insert("additional".into(), json!(true));
        }
        Value::Object(out)
    }
}

/// What a `$ref` or one-member `allOf` adds beside the reference: `nullable`, `readOnly`
/// and `required` (libregraph's `drive` is `driveUpdate` plus `required: [name]`).
fn add_flags(raw: &Value, out: &mut Value) {
    for (from, to) in [("nullable", "nullable"), ("readOnly", "read_only")] {
        if raw[from] == true {
            out[to] = json!(true);
        }
    }
    if raw["required"].is_array() {
        out["required"] = raw["required"].clone();
    }
}

// ---------------------------------------------------------------------------------------
// Stalwart

fn stalwart_table(doc: &Value) -> Value {
    let mut objects = Map::new();
    let mut schemas = BTreeMap::new();
    let mut variants_of = BTreeMap::new();
    let mut enums = BTreeSet::new();
    for (object, list, kept) in STALWART_OBJECTS {
        let schema = &doc["schemas"][*object];
        let mut variants = Map::new();
        match kept {
            None => {
                let name = schema["schemaName"].as_str().unwrap().to_owned();
                variants.insert(String::new(), json!(name));
            }
            Some(kept) => {
                for variant in schema["variants"].as_array().into_iter().flatten() {
                    let name = variant["name"].as_str().unwrap_or_default();
                    if kept.contains(&name) {
                        variants.insert(name.to_owned(), variant["schemaName"].clone());
                    }
                }
            }
        }
        let view = &doc["lists"][*list];
        let mut filters: Vec<Value> = view["filters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["field"].clone())
            .collect();
        if view["filtersStatic"].is_object() {
            filters.extend(
                view["filtersStatic"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| json!(k)),
            );
        }
        for schema_name in variants.values().filter_map(Value::as_str) {
            collect_fields(doc, schema_name, &mut schemas, &mut variants_of, &mut enums);
        }
        let methods = if doc["schemas"][*object]["type"] == "singleton" {
            json!(["get", "set"])
        } else {
            json!(["get", "query", "set"])
        };
        objects.insert(
            (*object).to_owned(),
            json!({ "variants": variants, "filters": filters, "methods": methods }),
        );
    }
    let enums: Map<String, Value> = enums
        .into_iter()
        .map(|name| {
            let values: Vec<Value> = doc["enums"][&name]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v["name"].clone())
                .collect();
            let listed = if values.len() > MAX_ENUM {
                json!(format!("{} values, not listed", values.len()))
            } else {
                json!(values)
            };
            (name, listed)
        })
        .collect();
    json!({
        "limits": {
            "maxObjectsInGet": 500,
            "queryMaxResults": 5000,
            "source": "the server's defaults (JMAP session capability urn:ietf:params:jmap:core \
                and Stalwart's query limit), from ../shared/upstreams.md; not in the registry schema",
        },
        "objects": objects,
        "schemas": schemas,
        "embedded": variants_of,
        "enums": enums,
    })
}

/// A schema's properties, and (recursively) those of the objects and variants it embeds.
fn collect_fields(
    doc: &Value,
    schema_name: &str,
    schemas: &mut BTreeMap<String, Value>,
    variants_of: &mut BTreeMap<String, Value>,
    enums: &mut BTreeSet<String>,
) {
    if schemas.contains_key(schema_name) {
        return;
    }
    let fields = &doc["fields"][schema_name];
    let defaults = fields["defaults"].as_object().cloned().unwrap_or_default();
    let mut properties = Map::new();
    let mut embedded = Vec::new();
    for (name, field) in fields["properties"].as_object().into_iter().flatten() {
        let kind = &field["type"];
        let update = field["update"].as_str().unwrap_or("mutable");
        let nullable = kind["nullable"] == true;
        let scalar = matches!(
            kind["type"].as_str(),
            Some("string" | "objectId" | "number" | "enum")
        );
        let required = scalar && !nullable && update != "serverSet" && !defaults.contains_key(name);
        let mut entry = json!({ "type": describe(kind, enums, &mut embedded), "update": update });
        if nullable {
            entry["nullable"] = json!(true);
        }
        if required {
            entry["required"] = json!(true);
        }
        properties.insert(name.clone(), entry);
    }
    schemas.insert(schema_name.to_owned(), Value::Object(properties));
    for object in embedded {
        let schema = &doc["schemas"][&object];
        match schema["type"].as_str() {
            // `@type` → the variant's schema (null: the variant has no properties).
            Some("multiple") => {
                let mut names = Map::new();
                for variant in schema["variants"].as_array().into_iter().flatten() {
                    let name = variant["name"].as_str().unwrap_or_default().to_owned();
                    names.insert(name, variant["schemaName"].clone());
                    if let Some(inner) = variant["schemaName"].as_str() {
                        collect_fields(doc, inner, schemas, variants_of, enums);
                    }
                }
                variants_of.insert(object.clone(), Value::Object(names));
            }
            // One schema, no `@type`: keyed by "" as in `objects`.
            Some("single") => {
                if let Some(inner) = schema["schemaName"].as_str() {
                    variants_of.insert(object.clone(), json!({ "": inner }));
                    collect_fields(doc, inner, schemas, variants_of, enums);
                }
            }
            _ => {}
        }
    }
}

/// `string`, `objectId:x:Domain`, `enum:StorageQuota`, `object:x:DkimManagement`,
/// `objectList:x:EmailAlias`, `set:string`, `map:enum:StorageQuota=>number`, …
fn describe(kind: &Value, enums: &mut BTreeSet<String>, embedded: &mut Vec<String>) -> String {
    let base = kind["type"].as_str().unwrap_or("any");
    match base {
        "enum" => {
            let name = kind["enumName"].as_str().unwrap_or_default();
            enums.insert(name.to_owned());
            format!("enum:{name}")
        }
        "object" | "objectList" => {
            let name = kind["objectName"].as_str().unwrap_or_default();
            embedded.push(name.to_owned());
            format!("{base}:{name}")
        }
        "objectId" => format!("objectId:{}", kind["objectName"].as_str().unwrap_or("")),
        "set" => format!("set:{}", describe(&kind["class"], enums, embedded)),
        "map" => format!(
            "map:{}=>{}",
            describe(&kind["keyClass"], enums, embedded),
            describe(&kind["valueClass"], enums, embedded)
        ),
        other => other.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Stripe (documented rules; Stripe publishes no document we keep beside the project)

fn stripe_rules() -> Value {
    json!({
        "auth": ["Bearer <secret key>", "Basic base64(<secret key>:)"],
        "request_body": "application/x-www-form-urlencoded, bracket notation (metadata[k]=v, a[]=x)",
        "idempotency": {
            "header": "Idempotency-Key",
            "max_key_length": 255,
            "replays": "the first answer once the endpoint started executing, 500s included, for at least 24 h",
            "replay_header": "Idempotent-Replayed: true",
            "not_saved": ["validation failures (400 before execution)", "429", "a request still executing (409)"],
            "reuse_with_other_parameters": "400 idempotency_error",
        },
        "list": { "limit": [1, 100], "cursors": ["starting_after", "ending_before"] },
        "operations": [
            { "id": "PostCustomers", "method": "POST", "path": "/v1/customers" },
            { "id": "GetCustomersSearch", "method": "GET", "path": "/v1/customers/search" },
            { "id": "GetCustomersCustomer", "method": "GET", "path": "/v1/customers/{customer}" },
            { "id": "PostCustomersCustomer", "method": "POST", "path": "/v1/customers/{customer}" },
            { "id": "GetCustomersCustomerPaymentMethods", "method": "GET", "path": "/v1/customers/{customer}/payment_methods" },
            { "id": "PostSetupIntents", "method": "POST", "path": "/v1/setup_intents" },
            { "id": "GetInvoices", "method": "GET", "path": "/v1/invoices" },
            { "id": "GetBalance", "method": "GET", "path": "/v1/balance" },
            { "id": "GetSubscriptions", "method": "GET", "path": "/v1/subscriptions" },
            { "id": "PostSubscriptions", "method": "POST", "path": "/v1/subscriptions" },
            { "id": "GetSubscriptionsSubscriptionExposedId", "method": "GET", "path": "/v1/subscriptions/{subscription_exposed_id}" },
            { "id": "PostSubscriptionsSubscriptionExposedId", "method": "POST", "path": "/v1/subscriptions/{subscription_exposed_id}" },
        ],
    })
}

// ---------------------------------------------------------------------------------------
// Output: pretty at the top, one line per property below (compact but reviewable).

fn write(out: &mut String, value: &Value, depth: usize) {
    let compact = depth >= 5 || !matches!(value, Value::Object(_) | Value::Array(_));
    let compact = compact || is_leaf_schema(value);
    if compact {
        out.push_str(&value.to_string());
        return;
    }
    let pad = "  ".repeat(depth + 1);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, v)) in map.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write(out, v, depth + 1);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad);
                write(out, v, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A schema without properties fits on one line.
fn is_leaf_schema(value: &Value) -> bool {
    value.get("properties").is_none()
        && value.get("type").is_some_and(Value::is_string)
        && value.as_object().is_some_and(|m| m.len() <= 6)
}
