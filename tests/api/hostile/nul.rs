//! Finding 3: PostgreSQL cannot store the NUL character, so every string argument refuses
//! it at the edge with `BAD_USER_INPUT` on that argument, and nothing is written. The
//! arguments are enumerated from introspection, so a new one is covered without a test
//! change.

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::tables::fingerprint;
use crate::support::{Tenant, World};

const INTROSPECTION: &str = r#"{
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name
      fields { name args { name type { ...Ref } } type { ...Ref } }
      inputFields { name type { ...Ref } }
    }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

/// The named type under any list / non-null wrappers, and its kind.
fn named(ty: &Value) -> (&str, &str) {
    let mut ty = ty;
    while ty["name"].is_null() {
        ty = &ty["ofType"];
    }
    (ty["kind"].as_str().unwrap(), ty["name"].as_str().unwrap())
}

/// Scalars that travel as strings (everything but numbers and booleans).
fn is_text(kind: &str, name: &str) -> bool {
    kind == "SCALAR" && !matches!(name, "Int" | "Float" | "Boolean")
}

/// The wire type of a variable holding this argument's type (`[String!]!` etc.).
fn type_ref(ty: &Value) -> String {
    match ty["kind"].as_str().unwrap() {
        "NON_NULL" => format!("{}!", type_ref(&ty["ofType"])),
        "LIST" => format!("[{}]", type_ref(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap().to_owned(),
    }
}

/// Every path (`arg`, `arg.field`, `arg.field.inner`) to a text value inside an argument.
fn text_paths(types: &[Value], ty: &Value, prefix: &str, depth: usize, out: &mut Vec<String>) {
    let (kind, name) = named(ty);
    if is_text(kind, name) {
        out.push(prefix.to_owned());
    } else if kind == "INPUT_OBJECT" && depth < 4 {
        let input = types.iter().find(|t| t["name"] == name).unwrap();
        for field in input["inputFields"].as_array().unwrap() {
            let path = format!("{prefix}.{}", field["name"].as_str().unwrap());
            text_paths(types, &field["type"], &path, depth + 1, out);
        }
    }
}

/// A JSON value with `"x\0"` at `path` (the first segment is the argument itself).
fn value_at(path: &[&str]) -> Value {
    match path {
        [] => json!("x\u{0}"),
        [field, rest @ ..] => json!({ *field: value_at(rest) }),
    }
}

#[tokio::test]
async fn every_string_argument_refuses_nul_and_writes_nothing() {
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .operator("root")
        .spawn()
        .await;
    let schema = w.query("root", INTROSPECTION).await;
    let schema = &schema["data"]["__schema"];
    let types = schema["types"].as_array().unwrap().clone();
    let roots = [
        ("query", schema["queryType"]["name"].as_str()),
        ("mutation", schema["mutationType"]["name"].as_str()),
        ("subscription", schema["subscriptionType"]["name"].as_str()),
    ];
    let mut conn = w.db.connect().await;
    let before = fingerprint(&mut conn).await;
    let statements = w.statements();
    let mut checked = 0;
    for ty in types.iter().filter(|t| t["kind"] == "OBJECT") {
        let type_name = ty["name"].as_str().unwrap();
        if type_name.starts_with("__") {
            continue;
        }
        let root = roots.iter().find(|(_, name)| *name == Some(type_name));
        for field in ty["fields"].as_array().unwrap() {
            let field_name = field["name"].as_str().unwrap();
            let selection = match named(&field["type"]).0 {
                "OBJECT" | "INTERFACE" | "UNION" => " { __typename }",
                _ => "",
            };
            for arg in field["args"].as_array().unwrap() {
                let arg_name = arg["name"].as_str().unwrap();
                let mut paths = Vec::new();
                text_paths(&types, &arg["type"], arg_name, 0, &mut paths);
                for path in paths {
                    let segments: Vec<&str> = path.split('.').collect();
                    let var_type = type_ref(&arg["type"]);
                    let call = format!("{field_name}({arg_name}: $v){selection}");
                    // Root fields are called as they are; others through a fragment on
                    // their type (the check runs before validation looks at placement).
                    let document = match root {
                        Some((op, _)) => format!("{op} Probe($v: {var_type}) {{ {call} }}"),
                        None => format!(
                            "query Probe($v: {var_type}) {{ ...P }} \
                             fragment P on {type_name} {{ {call} }}"
                        ),
                    };
                    let body = w
                        .query_with("root", &document, json!({ "v": value_at(&segments[1..]) }))
                        .await;
                    let context = format!("{type_name}.{field_name}({path}): {body}");
                    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{context}");
                    let expected = format!("v{}", &path[arg_name.len()..]);
                    assert_eq!(
                        body["errors"][0]["extensions"]["field"], expected,
                        "{context}"
                    );
                    // The same text written inline in the document.
                    if let (1, Some((op, _))) = (segments.len(), root) {
                        let inline =
                            format!("{op} {{ {field_name}({arg_name}: \"x\\u0000\"){selection} }}");
                        let body = w.query("root", &inline).await;
                        assert_eq!(
                            first_error_code(&body),
                            "BAD_USER_INPUT",
                            "{inline}: {body}"
                        );
                        assert_eq!(body["errors"][0]["extensions"]["field"], arg_name);
                    }
                    checked += 1;
                }
            }
        }
    }
    // The 14 paths of the finding are among them; the schema has many more.
    assert!(checked >= 40, "only {checked} string arguments found");
    assert_eq!(fingerprint(&mut conn).await, before, "nothing was written");
    assert_eq!(
        w.statements(),
        statements,
        "no SQL ran for a refused request"
    );
}

#[tokio::test]
async fn the_paths_of_the_finding_answer_bad_user_input() {
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .operator("root")
        .spawn()
        .await;
    let cases = [
        (r#"{ tenant(slug: "a\u0000b") { id } }"#, "slug"),
        (
            r#"{ tenants(filter: { search: "\u0000" }) { totalCount } }"#,
            "filter.search",
        ),
        (
            r#"{ auditEvents(filter: { actorEmail: "a\u0000@x" }) { totalCount } }"#,
            "filter.actorEmail",
        ),
        (
            r#"{ tenant(slug: "acme") { members(after: "\u0000") { totalCount } } }"#,
            "after",
        ),
        (
            r#"mutation { suspendTenant(input: { tenant: "acme", reason: "\u0000" }) { tenant { status } } }"#,
            "input.reason",
        ),
    ];
    let mut conn = w.db.connect().await;
    let before = fingerprint(&mut conn).await;
    for (query, field) in cases {
        let body = w.query("root", query).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{query}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{query}: {body}"
        );
    }
    assert_eq!(fingerprint(&mut conn).await, before);
    // Ordinary text still goes through.
    let body = w
        .query("root", r#"{ tenant(slug: "acme") { slug } }"#)
        .await;
    assert_eq!(body["data"]["tenant"]["slug"], "acme", "{body}");
}
