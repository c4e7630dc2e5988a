//! Holds the Authentik and oCIS fakes to the published OpenAPI documents, through the
//! contract table generated from them (`tests/api/fixtures/contracts/upstream-contracts.json`,
//! see `tests/api/upstream/contract/generate.rs`).
//!
//! Every request a validating fake receives is matched to a spec operation (path template and
//! method), its query parameters must be ones the operation declares (with valid enum,
//! boolean and integer values), and its JSON body must satisfy the operation's request schema:
//! required fields present, no unknown field where the schema closes the object, enum values
//! valid, string lengths, types, and no read-only field unless on [`READ_ONLY_ALLOWED`]. Every
//! answer the fake gives is checked against the response schema of its status (required
//! fields, types, enums). A miss is a violation: recorded on the fake's [`super::Control`]
//! (the test fails when the fake is dropped, unless it took them) and, for a request, answered
//! as the upstream would refuse it, naming the spec operation.

use std::sync::LazyLock;

use serde_json::{Map, Value};

/// The committed table.
pub static TABLE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!(
        "../../fixtures/contracts/upstream-contracts.json"
    ))
    .expect("the contract table is JSON")
});

/// Authentik 2025.10.4.
pub static AUTHENTIK: LazyLock<Contract> = LazyLock::new(|| Contract::new("authentik"));
/// libregraph v1.0.4 (oCIS).
pub static LIBREGRAPH: LazyLock<Contract> = LazyLock::new(|| Contract::new("libregraph"));

/// Read-only fields (per the spec) that the adapters send anyway, with the reason.
pub const READ_ONLY_ALLOWED: &[(&str, &str, &str)] = &[
    (
        "CreateDrive",
        "driveType",
        "libregraph marks `drive.driveType` read-only, but oCIS's CreateDrive reads it \
         (drives.go: empty or `project`); the adapter sends `project` explicitly",
    ),
    (
        "CreateDrive",
        "quota",
        "libregraph marks `quota` read-only, yet the spec's own CreateDrive example \
         (`multiple values`) sends `quota.total`, and oCIS applies it",
    ),
    (
        "UpdateDrive",
        "quota",
        "libregraph marks `quota` read-only, yet the spec's own UpdateDrive example \
         (`change quota`) sends `quota.total`, and oCIS applies it",
    ),
];

/// One upstream's operations and schemas.
pub struct Contract {
    /// `authentik` or `libregraph`.
    pub system: &'static str,
    base: String,
    operations: Vec<Value>,
    schemas: Map<String, Value>,
}

/// A spec operation, as the table has it.
pub struct Operation<'a> {
    /// `operationId`.
    pub id: &'a str,
    raw: &'a Value,
}

impl Contract {
    fn new(system: &'static str) -> Self {
        let table = &TABLE[system];
        Self {
            system,
            base: table["base"].as_str().unwrap_or_default().to_owned(),
            operations: table["operations"].as_array().cloned().unwrap_or_default(),
            schemas: table["schemas"].as_object().cloned().unwrap_or_default(),
        }
    }

    /// Every operation id in the table.
    pub fn operation_ids(&self) -> Vec<&str> {
        self.operations
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect()
    }

    /// The operation a request is for: `Err` names what is wrong (no such path, or the path
    /// exists with other methods).
    pub fn find(&self, method: &str, path: &str) -> Result<Operation<'_>, String> {
        let Some(rest) = path.strip_prefix(&self.base) else {
            return Err(format!("{path} is outside {}", self.base));
        };
        let matching: Vec<&Value> = self
            .operations
            .iter()
            .filter(|o| matches_template(o["path"].as_str().unwrap_or_default(), rest))
            .collect();
        if matching.is_empty() {
            return Err(format!("no {} operation has the path {path}", self.system));
        }
        match matching.iter().find(|o| o["method"] == method) {
            Some(raw) => Ok(Operation {
                id: raw["id"].as_str().unwrap_or_default(),
                raw,
            }),
            None => Err(format!(
                "{method} {path}: the {} spec has only {} there",
                self.system,
                matching
                    .iter()
                    .map(|o| format!(
                        "{} ({})",
                        o["method"].as_str().unwrap(),
                        o["id"].as_str().unwrap()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Checks a request's query and body; each violation is `<where>: <what>`.
    pub fn check_request(
        &self,
        op: &Operation<'_>,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let declared = &op.raw["query"];
        for (name, value) in query {
            // `name[]` is how some clients spell repeated parameters.
            let name = name.trim_end_matches("[]");
            let Some(schema) = declared.get(name) else {
                out.push(format!("query {name}: not a parameter of {}", op.id));
                continue;
            };
            let schema = schema.get("items").unwrap_or(schema);
            self.check_query_value(name, value, schema, &mut out);
        }
        let schema = &op.raw["body"];
        match (body, schema.is_null()) {
            (None, false) if op.raw["body_required"] == true => {
                out.push(format!("body: {} requires a request body", op.id));
            }
            (Some(body), false) => {
                let mut checker = Checker {
                    contract: self,
                    request: true,
                    op: op.id,
                    out: &mut out,
                };
                checker.check("body", body, schema, 0);
            }
            (Some(body), true) if !body.is_null() => {
                out.push(format!("body: {} takes no request body", op.id));
            }
            _ => {}
        }
        out
    }

    /// Checks an answer against the schema for its status (or `default`); statuses the spec
    /// does not list (Authentik's 404s) and bodiless answers are not checked.
    pub fn check_response(&self, op: &Operation<'_>, status: u16, body: &[u8]) -> Vec<String> {
        let responses = &op.raw["responses"];
        let schema = match responses.get(status.to_string()) {
            Some(schema) => schema,
            None if status >= 400 => match responses.get("default") {
                Some(schema) => schema,
                None => return Vec::new(),
            },
            None => {
                if (200..300).contains(&status) {
                    return vec![format!("status {status}: not an answer {} gives", op.id)];
                }
                return Vec::new();
            }
        };
        if schema.is_null() {
            return Vec::new();
        }
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return vec![format!("answer {status}: not JSON")];
        };
        let mut out = Vec::new();
        let mut checker = Checker {
            contract: self,
            request: false,
            op: op.id,
            out: &mut out,
        };
        checker.check(&format!("answer {status}"), &value, schema, 0);
        out
    }

    fn check_query_value(&self, name: &str, value: &str, schema: &Value, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.iter().any(|a| a == value)
        {
            out.push(format!("query {name}: {value:?} is not one of {allowed:?}"));
        }
        let ok = match schema["type"].as_str() {
            Some("boolean") => matches!(value, "true" | "false"),
            Some("integer") => value.parse::<i64>().is_ok(),
            Some("number") => value.parse::<f64>().is_ok(),
            _ => true,
        };
        if !ok {
            out.push(format!(
                "query {name}: {value:?} is not a {}",
                schema["type"]
            ));
        }
    }

    /// Follows `ref`s to the schema that has the shape.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..8 {
            match schema["ref"].as_str() {
                Some(name) => schema = self.schemas.get(name).unwrap_or(&Value::Null),
                None => return schema,
            }
        }
        schema
    }

    /// The `required` lists met along a chain of `ref`s (libregraph's `drive` is
    /// `driveUpdate` plus `required: [name]`).
    fn required_along<'a>(&'a self, mut schema: &'a Value) -> Vec<&'a str> {
        let mut out = Vec::new();
        for _ in 0..8 {
            if schema.get("ref").is_none() {
                break;
            }
            out.extend(
                schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
            schema = self
                .schemas
                .get(schema["ref"].as_str().unwrap_or_default())
                .unwrap_or(&Value::Null);
        }
        out
    }
}

struct Checker<'a> {
    contract: &'a Contract,
    request: bool,
    op: &'a str,
    out: &'a mut Vec<String>,
}

impl Checker<'_> {
    fn check(&mut self, at: &str, value: &Value, schema: &Value, depth: usize) {
        if depth > 12 {
            return;
        }
        // Flags on a `ref` (from `allOf`) apply beside the named schema's own.
        let nullable = schema["nullable"] == true;
        let read_only_ref = schema.get("ref").is_some() && schema["read_only"] == true;
        let extra_required = self.contract.required_along(schema);
        let schema = self.contract.resolve(schema);
        if value.is_null() {
            // drf-spectacular declares Authentik's read-only nested objects (`provider_obj`,
            // `group_obj`, …) non-nullable, but the serializer answers null for an empty
            // relation: in answers, a null read-only object is accepted.
            let empty_relation = !self.request && read_only_ref;
            if !(nullable
                || empty_relation
                || schema["nullable"] == true
                || schema["type"] == "any")
            {
                self.out.push(format!(
                    "{at}: null where the spec wants a {}",
                    schema["type"]
                ));
            }
            return;
        }
        let kind = schema["type"].as_str().unwrap_or("any");
        let ok = match kind {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !ok {
            self.out.push(format!("{at}: {value} is not a {kind}"));
            return;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            self.out.push(format!(
                "{at}: {value} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if schema["min_length"]
                .as_u64()
                .is_some_and(|min| length < min)
            {
                self.out
                    .push(format!("{at}: shorter than {}", schema["min_length"]));
            }
            if schema["max_length"]
                .as_u64()
                .is_some_and(|max| length > max)
            {
                self.out
                    .push(format!("{at}: longer than {}", schema["max_length"]));
            }
        }
        if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
            for (i, item) in values.iter().enumerate() {
                self.check(&format!("{at}[{i}]"), item, items, depth + 1);
            }
        }
        if let (Some(properties), Some(object)) =
            (schema["properties"].as_object(), value.as_object())
        {
            self.check_object(at, object, properties, schema, depth);
            for name in extra_required {
                if !object.contains_key(name) {
                    self.out
                        .push(format!("{at}.{name}: required field missing"));
                }
            }
        }
    }

    fn check_object(
        &mut self,
        at: &str,
        object: &Map<String, Value>,
        properties: &Map<String, Value>,
        schema: &Value,
        depth: usize,
    ) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                self.out
                    .push(format!("{at}.{name}: required field missing"));
            }
        }
        for (name, value) in object {
            let path = format!("{at}.{name}");
            let Some(property) = properties.get(name) else {
                if self.request && schema["additional"] != true {
                    self.out.push(format!("{path}: not a field of this schema"));
                }
                continue;
            };
            let read_only = property["read_only"] == true
                || self.contract.resolve(property)["read_only"] == true;
            if self.request && read_only {
                let allowed = depth == 0
                    && READ_ONLY_ALLOWED
                        .iter()
                        .any(|(op, field, _)| *op == self.op && field == name);
                if !allowed {
                    self.out.push(format!("{path}: read-only in the spec"));
                }
                continue;
            }
            self.check(&path, value, property, depth + 1);
        }
    }
}

/// `/core/users/{id}/` matches `/core/users/7/`; a parameter is one non-empty segment.
pub fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}
