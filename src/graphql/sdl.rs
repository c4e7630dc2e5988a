//! The SDL of one audience's view ([`SchemaView`]).
//!
//! async-graphql's own SDL export prints every type and field: it cannot apply `visible`
//! functions, which need a request context. So the view's SDL is made from what the server
//! would answer that audience: the introspection query runs through the schema with the view
//! in the request data, and the answer is printed in the same layout as `Schema::sdl_with_options`
//! (sorted fields and enum values, tabs, block descriptions). The operator view prints exactly
//! as `schema.graphql`; a test holds the two printers to that.

use std::fmt::Write;

use serde_json::Value;

use crate::graphql::audience::SchemaView;

/// The introspection query: everything an SDL needs, nothing else.
pub const INTROSPECTION: &str = r#"
query {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types {
      kind name description specifiedByURL isOneOf
      fields(includeDeprecated: true) {
        name description isDeprecated deprecationReason
        args { ...InputValue }
        type { ...TypeRef }
      }
      inputFields { ...InputValue }
      interfaces { name }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { name }
    }
    directives { name description locations isRepeatable args { ...InputValue } }
  }
}
fragment InputValue on __InputValue {
  name description defaultValue isDeprecated deprecationReason type { ...TypeRef }
}
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType {
    kind name ofType { kind name ofType { kind name } } } } } }
}
"#;

const BUILTIN_SCALARS: &[&str] = &["Int", "Float", "String", "Boolean", "ID"];

/// The SDL of `view`, as introspection answers a caller of that audience.
pub async fn sdl_for(view: SchemaView) -> String {
    let limits = crate::config::GraphqlLimits::defaults(crate::config::AppEnv::Development);
    let schema = super::schema_builder(&limits).finish();
    let response = schema
        .execute(async_graphql::Request::new(INTROSPECTION).data(view))
        .await;
    assert!(
        response.errors.is_empty(),
        "introspection of the {} view failed: {:?}",
        view.name(),
        response.errors
    );
    let data = response
        .data
        .into_json()
        .expect("introspection answers JSON");
    print(&data["__schema"])
}

/// Prints an introspection `__schema` object as SDL.
pub fn print(schema: &Value) -> String {
    let mut sdl = String::new();
    let mut types: Vec<&Value> = list(&schema["types"]).collect();
    types.sort_by_key(|t| str_of(&t["name"]));
    for ty in &types {
        print_type(&mut sdl, ty);
    }
    let uses_deprecated = types.iter().any(|t| {
        list(&t["fields"])
            .chain(list(&t["enumValues"]))
            .any(|f| f["isDeprecated"] == Value::Bool(true))
    });
    let uses_specified_by = types.iter().any(|t| t["specifiedByURL"].is_string());
    let uses_one_of = types.iter().any(|t| t["isOneOf"] == Value::Bool(true));
    let mut directives: Vec<&Value> = list(&schema["directives"]).collect();
    directives.sort_by_key(|d| str_of(&d["name"]));
    for directive in directives {
        let name = str_of(&directive["name"]);
        let used = match name {
            "deprecated" => uses_deprecated,
            "specifiedBy" => uses_specified_by,
            "oneOf" => uses_one_of,
            _ => true,
        };
        if used {
            print_directive(&mut sdl, directive);
        }
    }
    sdl.push_str("schema {\n");
    let _ = writeln!(sdl, "\tquery: {}", str_of(&schema["queryType"]["name"]));
    for (key, root) in [
        ("mutationType", "mutation"),
        ("subscriptionType", "subscription"),
    ] {
        if let Some(name) = schema[key]["name"].as_str() {
            let _ = writeln!(sdl, "\t{root}: {name}");
        }
    }
    sdl.push_str("}\n");
    sdl
}

fn list(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn print_type(sdl: &mut String, ty: &Value) {
    let name = str_of(&ty["name"]);
    if name.starts_with("__") {
        return;
    }
    let kind = str_of(&ty["kind"]);
    if kind == "SCALAR" && BUILTIN_SCALARS.contains(&name) {
        return;
    }
    description(sdl, 0, &ty["description"]);
    match kind {
        "SCALAR" => {
            let _ = write!(sdl, "scalar {name}\n\n");
        }
        "OBJECT" | "INTERFACE" => {
            let keyword = if kind == "OBJECT" {
                "type"
            } else {
                "interface"
            };
            let _ = write!(sdl, "{keyword} {name}");
            let interfaces: Vec<&str> = list(&ty["interfaces"])
                .map(|i| str_of(&i["name"]))
                .collect();
            if !interfaces.is_empty() {
                let _ = write!(sdl, " implements {}", interfaces.join(" & "));
            }
            sdl.push_str(" {\n");
            let mut fields: Vec<&Value> = list(&ty["fields"]).collect();
            fields.sort_by_key(|f| str_of(&f["name"]));
            for field in fields {
                print_field(sdl, field);
            }
            sdl.push_str("}\n\n");
        }
        "ENUM" => {
            let _ = writeln!(sdl, "enum {name} {{");
            let mut values: Vec<&Value> = list(&ty["enumValues"]).collect();
            values.sort_by_key(|v| str_of(&v["name"]));
            for value in values {
                description(sdl, 1, &value["description"]);
                let _ = write!(sdl, "\t{}", str_of(&value["name"]));
                deprecated(sdl, value);
                sdl.push('\n');
            }
            sdl.push_str("}\n\n");
        }
        "INPUT_OBJECT" => {
            let _ = write!(sdl, "input {name}");
            if ty["isOneOf"] == Value::Bool(true) {
                sdl.push_str(" @oneOf");
            }
            sdl.push_str(" {\n");
            let mut fields: Vec<&Value> = list(&ty["inputFields"]).collect();
            fields.sort_by_key(|f| str_of(&f["name"]));
            for field in fields {
                description(sdl, 1, &field["description"]);
                sdl.push('\t');
                input_value(sdl, field);
                sdl.push('\n');
            }
            sdl.push_str("}\n\n");
        }
        "UNION" => {
            let members: Vec<&str> = list(&ty["possibleTypes"])
                .map(|t| str_of(&t["name"]))
                .collect();
            let _ = write!(sdl, "union {name} = {}\n\n", members.join(" | "));
        }
        other => unreachable!("introspection names no type kind {other}"),
    }
}

fn print_field(sdl: &mut String, field: &Value) {
    description(sdl, 1, &field["description"]);
    let name = str_of(&field["name"]);
    let args: Vec<&Value> = list(&field["args"]).collect();
    if args.is_empty() {
        let _ = write!(sdl, "\t{name}: {}", type_ref(&field["type"]));
    } else {
        let _ = write!(sdl, "\t{name}(");
        let multiline = args.iter().any(|a| a["description"].is_string());
        for (i, arg) in args.iter().enumerate() {
            if i != 0 {
                sdl.push(',');
            }
            if arg["description"].is_string() {
                sdl.push('\n');
                description(sdl, 2, &arg["description"]);
            }
            if multiline {
                sdl.push_str("\t\t");
            } else if i != 0 {
                sdl.push(' ');
            }
            input_value(sdl, arg);
        }
        if multiline {
            sdl.push_str("\n\t");
        }
        let _ = write!(sdl, "): {}", type_ref(&field["type"]));
    }
    deprecated(sdl, field);
    sdl.push('\n');
}

fn print_directive(sdl: &mut String, directive: &Value) {
    description(sdl, 0, &directive["description"]);
    let _ = write!(sdl, "directive @{}", str_of(&directive["name"]));
    let args: Vec<String> = list(&directive["args"])
        .map(|arg| {
            let mut out = String::new();
            input_value(&mut out, arg);
            out
        })
        .collect();
    if !args.is_empty() {
        let _ = write!(sdl, "({})", args.join(", "));
    }
    if directive["isRepeatable"] == Value::Bool(true) {
        sdl.push_str(" repeatable");
    }
    let locations: Vec<&str> = list(&directive["locations"]).map(str_of).collect();
    let _ = writeln!(sdl, " on {}", locations.join(" | "));
}

fn input_value(sdl: &mut String, value: &Value) {
    let _ = write!(
        sdl,
        "{}: {}",
        str_of(&value["name"]),
        type_ref(&value["type"])
    );
    if let Some(default) = value["defaultValue"].as_str() {
        let _ = write!(sdl, " = {default}");
    }
    deprecated(sdl, value);
}

fn deprecated(sdl: &mut String, item: &Value) {
    if item["isDeprecated"] != Value::Bool(true) {
        return;
    }
    match item["deprecationReason"].as_str() {
        Some(reason) => {
            let escaped = serde_json::to_string(reason).unwrap_or_default();
            let _ = write!(sdl, " @deprecated(reason: {escaped})");
        }
        None => sdl.push_str(" @deprecated"),
    }
}

fn description(sdl: &mut String, level: usize, text: &Value) {
    if let Some(text) = text.as_str() {
        let tabs = "\t".repeat(level);
        let text = text.replace('\n', &format!("\n{tabs}"));
        let _ = writeln!(sdl, "{tabs}\"\"\"\n{tabs}{text}\n{tabs}\"\"\"");
    }
}

fn type_ref(ty: &Value) -> String {
    match str_of(&ty["kind"]) {
        "NON_NULL" => format!("{}!", type_ref(&ty["ofType"])),
        "LIST" => format!("[{}]", type_ref(&ty["ofType"])),
        _ => str_of(&ty["name"]).to_owned(),
    }
}
