//! Holds the Stalwart fake to the Stalwart part of the contract table (generated from the
//! 0.16 registry schema, see `tests/api/upstream/contract/generate.rs`).
//!
//! Every JMAP method call the fake receives is checked, after back-references are resolved:
//! the object type and method exist in the table, the arguments are the method's (RFC 8620
//! `/get`, `/query`, `/set`), `/get` asks for known properties and at most
//! `maxObjectsInGet` ids, `/query` filters on the list view's fields, and each `/set` create
//! or update patch names known properties with values of their type (enum values, `@type`
//! variants, sets, maps and object lists), has the required ones on create, and writes no
//! `serverSet` property. A miss is a violation on the fake's [`Control`](super::super::Control)
//! (the test fails unless it takes them), answered as Stalwart refuses it: a method error
//! (`unknownMethod`, `invalidArguments`, `unsupportedFilter`, `requestTooLarge`) or an
//! `invalidProperties` SetError naming the properties.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::super::contract::TABLE;

/// The Stalwart 0.16 registry, as the table has it.
pub static STALWART: LazyLock<Registry> = LazyLock::new(|| Registry {
    table: TABLE["stalwart"].clone(),
});

/// A problem with one property: its JMAP path (`credentials/0/secret`) and what is wrong.
pub type Problem = (String, String);

/// The registry objects, schemas, embedded objects and enums the adapter uses.
pub struct Registry {
    table: Value,
}

const GET_ARGUMENTS: &[&str] = &["accountId", "ids", "properties"];
const QUERY_ARGUMENTS: &[&str] = &[
    "accountId",
    "filter",
    "sort",
    "position",
    "anchor",
    "anchorOffset",
    "limit",
    "calculateTotal",
];
const SET_ARGUMENTS: &[&str] = &["accountId", "ifInState", "create", "update", "destroy"];

impl Registry {
    /// Every `x:Object/method` the table has.
    pub fn methods(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (object, entry) in self.table["objects"].as_object().into_iter().flatten() {
            for method in entry["methods"].as_array().into_iter().flatten() {
                out.push(format!("{object}/{}", method.as_str().unwrap_or_default()));
            }
        }
        out
    }

    /// The most ids one `/get` may ask for.
    pub fn max_objects_in_get(&self) -> usize {
        self.table["limits"]["maxObjectsInGet"]
            .as_u64()
            .unwrap_or(500) as usize
    }

    /// Checks a call's name and arguments (not the `/set` entries: see [`Self::check_create`]
    /// and [`Self::check_update`]); `Err` is the method error type and the problems.
    pub fn check_call(
        &self,
        name: &str,
        args: &Map<String, Value>,
    ) -> Result<(), (&'static str, String)> {
        let (object, method) = name.split_once('/').unwrap_or((name, ""));
        let entry = &self.table["objects"][object];
        if entry.is_null() {
            return Err((
                "unknownMethod",
                format!("{object} is not an object in the table"),
            ));
        }
        if !entry["methods"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m == method))
        {
            return Err((
                "unknownMethod",
                format!("{object} has no {method:?} method"),
            ));
        }
        let allowed = match method {
            "get" => GET_ARGUMENTS,
            "query" => QUERY_ARGUMENTS,
            _ => SET_ARGUMENTS,
        };
        if let Some(unknown) = args.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err((
                "invalidArguments",
                format!("{unknown} is not an argument of /{method}"),
            ));
        }
        match method {
            "get" => self.check_get(object, args),
            "query" => self.check_query(object, args),
            _ => self.check_set_shape(args),
        }
    }

    fn check_get(
        &self,
        object: &str,
        args: &Map<String, Value>,
    ) -> Result<(), (&'static str, String)> {
        match args.get("ids") {
            None | Some(Value::Null) => {}
            Some(Value::Array(ids)) => {
                if ids.len() > self.max_objects_in_get() {
                    return Err((
                        "requestTooLarge",
                        format!(
                            "{} ids; at most {} per get",
                            ids.len(),
                            self.max_objects_in_get()
                        ),
                    ));
                }
                if !ids.iter().all(Value::is_string) {
                    return Err(("invalidArguments", "ids: not a list of ids".into()));
                }
            }
            Some(_) => return Err(("invalidArguments", "ids: not a list".into())),
        }
        let known = self.properties_of(object);
        for property in args
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = property.as_str().unwrap_or_default();
            if !known.iter().any(|k| k == name) {
                return Err((
                    "invalidArguments",
                    format!("properties: {name:?} is not a property of {object}"),
                ));
            }
        }
        Ok(())
    }

    fn check_query(
        &self,
        object: &str,
        args: &Map<String, Value>,
    ) -> Result<(), (&'static str, String)> {
        let filters = &self.table["objects"][object]["filters"];
        if let Some(filter) = args.get("filter").filter(|f| !f.is_null()) {
            check_filter(object, filter, filters)?;
        }
        for number in ["position", "limit", "anchorOffset"] {
            if args.get(number).is_some_and(|n| !n.is_i64()) {
                return Err(("invalidArguments", format!("{number}: not an integer")));
            }
        }
        if args
            .get("limit")
            .is_some_and(|n| n.as_i64().is_some_and(|n| n < 0))
        {
            return Err(("invalidArguments", "limit: negative".into()));
        }
        Ok(())
    }

    fn check_set_shape(&self, args: &Map<String, Value>) -> Result<(), (&'static str, String)> {
        for (name, ok) in [
            (
                "create",
                args.get("create")
                    .is_none_or(|v| v.is_object() || v.is_null()),
            ),
            (
                "update",
                args.get("update")
                    .is_none_or(|v| v.is_object() || v.is_null()),
            ),
            (
                "destroy",
                args.get("destroy").is_none_or(|v| {
                    v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                }),
            ),
        ] {
            if !ok {
                return Err(("invalidArguments", format!("{name}: wrong shape")));
            }
        }
        Ok(())
    }

    /// `id`, `@type` (for objects with variants) and every variant's properties.
    fn properties_of(&self, object: &str) -> Vec<String> {
        let variants = &self.table["objects"][object]["variants"];
        let mut out = vec!["id".to_owned()];
        if variants.get("").is_none() {
            out.push("@type".into());
        }
        for schema in variants
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, s)| s.as_str())
        {
            out.extend(self.schema(schema).keys().cloned());
        }
        out
    }

    fn schema(&self, name: &str) -> Map<String, Value> {
        self.table["schemas"][name]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Problems with an object to create (`@type` variant, known, writable and required
    /// properties, value types).
    pub fn check_create(&self, object: &str, value: &Value) -> Vec<Problem> {
        let mut out = Vec::new();
        let variants = &self.table["objects"][object]["variants"];
        self.check_variant_object("", value, variants, &mut out);
        out
    }

    /// Problems with an update patch (`a/b/c` paths into the stored object `current`).
    pub fn check_update(
        &self,
        object: &str,
        patch: &Map<String, Value>,
        current: &Value,
    ) -> Vec<Problem> {
        let mut out = Vec::new();
        let variants = &self.table["objects"][object]["variants"];
        let Some(schema) = variant_schema(variants, current) else {
            out.push((
                "@type".into(),
                format!("the stored {object} has no variant in the table"),
            ));
            return out;
        };
        for (path, value) in patch {
            if path == "@type" {
                out.push((path.clone(), "the variant cannot be patched".into()));
                continue;
            }
            let segments: Vec<&str> = path.split('/').collect();
            self.check_patch(path, &segments, value, schema, current, &mut out);
        }
        out
    }

    /// One patch path into the properties of `schema` (a schema name, or `None` for a
    /// variant without properties), `current` being the object the path starts in.
    fn check_patch(
        &self,
        path: &str,
        segments: &[&str],
        value: &Value,
        schema: Option<&str>,
        current: &Value,
        out: &mut Vec<Problem>,
    ) {
        let fields = schema.map(|s| self.schema(s)).unwrap_or_default();
        let Some(field) = fields.get(segments[0]) else {
            out.push((path.into(), "unknown property".into()));
            return;
        };
        if field["update"] == "serverSet" {
            out.push((path.into(), "server-set property".into()));
            return;
        }
        let ty = field["type"].as_str().unwrap_or("any");
        let inner = &current[segments[0]];
        match segments {
            [_] => {
                if value.is_null() {
                    if field["nullable"] != true {
                        out.push((path.into(), "not nullable".into()));
                    }
                } else {
                    self.check_value(path, value, ty, out);
                }
            }
            [_, key, rest @ ..] => {
                if let Some(kind) = ty.strip_prefix("map:") {
                    let (key_type, value_type) = kind.split_once("=>").unwrap_or((kind, "any"));
                    self.check_key(path, key, key_type, out);
                    if !rest.is_empty() {
                        out.push((path.into(), "a map value has no properties".into()));
                    } else if !value.is_null() {
                        self.check_value(path, value, value_type, out);
                    }
                } else if let Some(member) = ty.strip_prefix("set:") {
                    self.check_key(path, key, member, out);
                    if !rest.is_empty() || !(value.is_null() || *value == Value::Bool(true)) {
                        out.push((
                            path.into(),
                            "a set member is patched with true or null".into(),
                        ));
                    }
                } else if let Some(embedded) = ty.strip_prefix("objectList:") {
                    if key.parse::<u32>().is_err() {
                        out.push((path.into(), "an object list is keyed by index".into()));
                    } else if rest.is_empty() {
                        if !value.is_null() {
                            self.check_embedded(path, value, embedded, out);
                        }
                    } else {
                        self.check_nested(path, rest, value, embedded, &inner[*key], out);
                    }
                } else if let Some(embedded) = ty.strip_prefix("object:") {
                    let rest: Vec<&str> =
                        std::iter::once(*key).chain(rest.iter().copied()).collect();
                    self.check_nested(path, &rest, value, embedded, inner, out);
                } else {
                    out.push((path.into(), format!("a {ty} has no parts")));
                }
            }
            [] => {}
        }
    }

    /// A patch path into an embedded object whose stored value is `current`.
    fn check_nested(
        &self,
        path: &str,
        segments: &[&str],
        value: &Value,
        embedded: &str,
        current: &Value,
        out: &mut Vec<Problem>,
    ) {
        let variants = &self.table["embedded"][embedded];
        match variant_schema(variants, current) {
            Some(schema) => self.check_patch(path, segments, value, schema, current, out),
            None => out.push((
                path.into(),
                format!("no stored {embedded} of a known variant here"),
            )),
        }
    }

    fn check_key(&self, path: &str, key: &str, ty: &str, out: &mut Vec<Problem>) {
        self.check_value(path, &Value::String(key.to_owned()), ty, out);
    }

    /// A whole value of a field type (`string`, `enum:X`, `set:T`, `map:K=>V`, `object:X`,
    /// `objectList:X`, `objectId:X`, `number`, `boolean`, `utcDateTime`).
    fn check_value(&self, at: &str, value: &Value, ty: &str, out: &mut Vec<Problem>) {
        let wrong =
            |out: &mut Vec<Problem>| out.push((at.into(), format!("{value} is not a {ty}")));
        if let Some(name) = ty.strip_prefix("enum:") {
            match (value.as_str(), self.table["enums"][name].as_array()) {
                (None, _) => wrong(out),
                (Some(v), Some(allowed)) if !allowed.iter().any(|a| a == v) => {
                    out.push((at.into(), format!("{v:?} is not a {name} value")));
                }
                _ => {}
            }
        } else if let Some(member) = ty.strip_prefix("set:") {
            let Some(object) = value.as_object() else {
                return wrong(out);
            };
            for (key, flag) in object {
                self.check_key(&format!("{at}/{key}"), key, member, out);
                if *flag != Value::Bool(true) {
                    out.push((format!("{at}/{key}"), "a set member maps to true".into()));
                }
            }
        } else if let Some(kind) = ty.strip_prefix("map:") {
            let (key_type, value_type) = kind.split_once("=>").unwrap_or((kind, "any"));
            let Some(object) = value.as_object() else {
                return wrong(out);
            };
            for (key, item) in object {
                let at = format!("{at}/{key}");
                self.check_key(&at, key, key_type, out);
                self.check_value(&at, item, value_type, out);
            }
        } else if let Some(embedded) = ty.strip_prefix("objectList:") {
            let Some(object) = value.as_object() else {
                return wrong(out);
            };
            for (key, item) in object {
                let at = format!("{at}/{key}");
                if key.parse::<u32>().is_err() {
                    out.push((at.clone(), "an object list is keyed by index".into()));
                }
                self.check_embedded(&at, item, embedded, out);
            }
        } else if let Some(embedded) = ty.strip_prefix("object:") {
            self.check_embedded(at, value, embedded, out);
        } else {
            let ok = match ty {
                "string" | "utcDateTime" => value.is_string(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                t if t.starts_with("objectId:") => value.is_string(),
                _ => true,
            };
            if !ok {
                wrong(out);
            }
        }
    }

    fn check_embedded(&self, at: &str, value: &Value, embedded: &str, out: &mut Vec<Problem>) {
        let variants = &self.table["embedded"][embedded];
        if variants.is_null() {
            out.push((at.into(), format!("{embedded} is not in the table")));
            return;
        }
        self.check_variant_object(at, value, variants, out);
    }

    /// An object of one of `variants` (`{"": schema}` for a single schema), as created.
    fn check_variant_object(
        &self,
        at: &str,
        value: &Value,
        variants: &Value,
        out: &mut Vec<Problem>,
    ) {
        let join = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}/{name}")
            }
        };
        let Some(object) = value.as_object() else {
            out.push((at.into(), "not an object".into()));
            return;
        };
        let schema = if variants.get("").is_some() {
            if object.contains_key("@type") {
                out.push((join("@type"), "this object has no variants".into()));
            }
            variants[""].as_str()
        } else {
            match object.get("@type").and_then(Value::as_str) {
                None => {
                    out.push((join("@type"), "missing: the variant is required".into()));
                    return;
                }
                Some(kind) => match variants.get(kind) {
                    Some(schema) => schema.as_str(),
                    None => {
                        let known: Vec<&String> = variants
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, _)| k)
                            .collect();
                        out.push((join("@type"), format!("{kind:?} is not one of {known:?}")));
                        return;
                    }
                },
            }
        };
        let fields = schema.map(|s| self.schema(s)).unwrap_or_default();
        for (name, item) in object.iter().filter(|(k, _)| k.as_str() != "@type") {
            let Some(field) = fields.get(name) else {
                out.push((join(name), "unknown property".into()));
                continue;
            };
            if field["update"] == "serverSet" {
                out.push((join(name), "server-set property".into()));
                continue;
            }
            if item.is_null() {
                if field["nullable"] != true {
                    out.push((join(name), "not nullable".into()));
                }
                continue;
            }
            self.check_value(
                &join(name),
                item,
                field["type"].as_str().unwrap_or("any"),
                out,
            );
        }
        for (name, field) in &fields {
            if field["required"] == true && !object.contains_key(name) {
                out.push((join(name), "required property missing".into()));
            }
        }
    }
}

/// The schema of the variant `current` is (`Some(None)`: a variant without properties;
/// `None`: no known variant).
fn variant_schema<'a>(variants: &'a Value, current: &Value) -> Option<Option<&'a str>> {
    if let Some(single) = variants.get("") {
        return Some(single.as_str());
    }
    let kind = current["@type"].as_str()?;
    variants.get(kind).map(Value::as_str)
}

/// A filter condition on the list view's fields, or an operator over conditions.
fn check_filter(
    object: &str,
    filter: &Value,
    filters: &Value,
) -> Result<(), (&'static str, String)> {
    let Some(condition) = filter.as_object() else {
        return Err(("invalidArguments", "filter: not an object".into()));
    };
    if let Some(operator) = condition.get("operator") {
        if !matches!(operator.as_str(), Some("AND" | "OR" | "NOT")) {
            return Err(("unsupportedFilter", format!("operator {operator}")));
        }
        for inner in condition
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            check_filter(object, inner, filters)?;
        }
        return Ok(());
    }
    for key in condition.keys() {
        if !filters
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == key))
        {
            return Err((
                "unsupportedFilter",
                format!("{key} is not a filter of {object}"),
            ));
        }
    }
    Ok(())
}
