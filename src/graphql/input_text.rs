//! Text the database cannot store, refused once at the edge.
//!
//! PostgreSQL refuses the NUL character in `text` and `jsonb`, so a `\0` that reached a
//! statement used to fail there as `INTERNAL`. Every string in the request's arguments
//! (literals, directive arguments and variable defaults) and in its variables is checked
//! before validation; the first one holding a NUL is `BAD_USER_INPUT` with
//! `extensions.field` naming it (`argument.path` for a literal, `variable.path` for a
//! variable), and nothing runs.

use async_graphql::parser::types::{Directive, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

/// The character refused.
const NUL: char = '\0';

/// The first input that holds a NUL character, named as `extensions.field` reports it.
pub fn first_nul(document: &ExecutableDocument, variables: &Variables) -> Option<String> {
    for (name, value) in variables.iter() {
        if let Some(path) = const_value(value, name.as_str()) {
            return Some(path);
        }
    }
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            let name = definition.node.name.node.as_str();
            if let Some(path) = definition
                .node
                .default_value
                .as_ref()
                .and_then(|v| const_value(&v.node, name))
            {
                return Some(path);
            }
        }
        if let Some(path) = directives(&operation.node.directives)
            .or_else(|| selection_set(&operation.node.selection_set.node))
        {
            return Some(path);
        }
    }
    document.fragments.values().find_map(|fragment| {
        directives(&fragment.node.directives)
            .or_else(|| selection_set(&fragment.node.selection_set.node))
    })
}

fn selection_set(set: &SelectionSet) -> Option<String> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => self::field(&field.node),
        Selection::InlineFragment(fragment) => directives(&fragment.node.directives)
            .or_else(|| selection_set(&fragment.node.selection_set.node)),
        // The fragment's own definition is checked once, not per spread.
        Selection::FragmentSpread(spread) => directives(&spread.node.directives),
    })
}

fn field(field: &Field) -> Option<String> {
    arguments(&field.arguments)
        .or_else(|| directives(&field.directives))
        .or_else(|| selection_set(&field.selection_set.node))
}

fn directives(directives: &[Positioned<Directive>]) -> Option<String> {
    directives.iter().find_map(|d| arguments(&d.node.arguments))
}

fn arguments(arguments: &[(Positioned<Name>, Positioned<Value>)]) -> Option<String> {
    arguments
        .iter()
        .find_map(|(name, v)| value(&v.node, name.node.as_str()))
}

fn value(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains(NUL) => Some(path.to_owned()),
        Value::List(items) => items.iter().find_map(|item| self::value(item, path)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(key, v)| self::value(v, &format!("{path}.{key}"))),
        _ => None,
    }
}

fn const_value(value: &ConstValue, path: &str) -> Option<String> {
    match value {
        ConstValue::String(s) if s.contains(NUL) => Some(path.to_owned()),
        ConstValue::List(items) => items.iter().find_map(|item| const_value(item, path)),
        ConstValue::Object(fields) => fields.iter().find_map(|(key, v)| {
            if key.contains(NUL) {
                Some(path.to_owned())
            } else {
                const_value(v, &format!("{path}.{key}"))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: serde_json::Value) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        first_nul(&document, &Variables::from_json(variables))
    }

    #[test]
    fn names_the_literal_argument_at_fault() {
        assert_eq!(
            check(
                r#"{ tenant(slug: "a\u0000") { id } }"#,
                serde_json::json!({})
            ),
            Some("slug".into())
        );
        assert_eq!(
            check(
                r#"mutation { x(input: { a: "ok", b: { c: ["\u0000"] } }) { y } }"#,
                serde_json::json!({})
            ),
            Some("input.b.c".into())
        );
        assert_eq!(
            check(
                r#"{ a { ...F } } fragment F on T { b(s: "\u0000") }"#,
                serde_json::json!({})
            ),
            Some("s".into())
        );
        assert_eq!(
            check(
                r#"{ a @include(if: true) b(s: "fine") }"#,
                serde_json::json!({})
            ),
            None
        );
    }

    #[test]
    fn names_the_variable_at_fault() {
        let q = "query($input: X) { x(input: $input) }";
        assert_eq!(
            check(
                q,
                serde_json::json!({"input": {"contactInfo": {"phone": "1\u{0}"}}})
            ),
            Some("input.contactInfo.phone".into())
        );
        assert_eq!(
            check(q, serde_json::json!({"input": {"k\u{0}": 1}})),
            Some("input".into())
        );
        assert_eq!(check(q, serde_json::json!({"input": {"a": "b"}})), None);
        assert_eq!(
            check(
                r#"query($s: String = "\u0000") { a(s: $s) }"#,
                serde_json::json!({})
            ),
            Some("s".into())
        );
    }
}
