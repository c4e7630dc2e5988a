use std::collections::HashSet;

use async_graphql_value::{ConstValue, Value};

use crate::{QueryPathSegment, context::QueryPathNode, registry};

#[derive(Debug, Copy, Clone, PartialEq, Eq, Hash)]
pub enum Scope<'a> {
    Operation(Option<&'a str>),
    Fragment(&'a str),
}

fn valid_error(path_node: &QueryPathNode, msg: String) -> String {
    format!("\"{}\", {}", path_node, msg)
}

pub fn referenced_variables(value: &Value) -> Vec<&str> {
    let mut vars = Vec::new();
    referenced_variables_to_vec(value, &mut vars);
    vars
}

fn referenced_variables_to_vec<'a>(value: &'a Value, vars: &mut Vec<&'a str>) {
    match value {
        Value::Variable(name) => {
            vars.push(name);
        }
        Value::List(values) => values
            .iter()
            .for_each(|value| referenced_variables_to_vec(value, vars)),
        Value::Object(obj) => obj
            .values()
            .for_each(|value| referenced_variables_to_vec(value, vars)),
        _ => {}
    }
}

pub fn is_valid_input_value(
    registry: &registry::Registry,
    type_name: &str,
    value: &ConstValue,
    path_node: QueryPathNode,
) -> Option<String> {
    invalid_input_values(registry, type_name, value, path_node)
        .into_iter()
        .next()
}

// platform-api patch (see vendor/PATCHES.md): every invalid part of an input value is
// reported (two bad fields of one input object are two errors), not only the first.
/// Every reason why `value` is not a valid `type_name`, in document order.
pub fn invalid_input_values(
    registry: &registry::Registry,
    type_name: &str,
    value: &ConstValue,
    path_node: QueryPathNode,
) -> Vec<String> {
    let mut reasons = Vec::new();
    collect_invalid(registry, type_name, value, &path_node, &mut reasons);
    reasons
}

fn collect_invalid(
    registry: &registry::Registry,
    type_name: &str,
    value: &ConstValue,
    path_node: &QueryPathNode,
    out: &mut Vec<String>,
) {
    match registry::MetaTypeName::create(type_name) {
        registry::MetaTypeName::NonNull(type_name) => match value {
            ConstValue::Null => out.push(valid_error(
                path_node,
                format!("expected type \"{}\"", type_name),
            )),
            _ => collect_invalid(registry, type_name, value, path_node, out),
        },
        registry::MetaTypeName::List(type_name) => match value {
            ConstValue::List(elems) => {
                for (idx, elem) in elems.iter().enumerate() {
                    collect_invalid(
                        registry,
                        type_name,
                        elem,
                        &QueryPathNode {
                            parent: Some(path_node),
                            segment: QueryPathSegment::Index(idx),
                        },
                        out,
                    );
                }
            }
            ConstValue::Null => {}
            _ => collect_invalid(registry, type_name, value, path_node, out),
        },
        registry::MetaTypeName::Named(type_name) => {
            if let ConstValue::Null = value {
                return;
            }

            match registry
                .types
                .get(type_name)
                .unwrap_or_else(|| panic!("Type `{}` not defined", type_name))
            {
                registry::MetaType::Scalar {
                    is_valid: Some(is_valid_fn),
                    ..
                } => {
                    if !(is_valid_fn)(value) {
                        out.push(valid_error(
                            path_node,
                            format!("expected type \"{}\"", type_name),
                        ));
                    }
                }
                registry::MetaType::Scalar { is_valid: None, .. } => {}
                registry::MetaType::Enum {
                    enum_values,
                    name: enum_name,
                    ..
                } => match value {
                    ConstValue::Enum(name) if !enum_values.contains_key(name.as_str()) => {
                        out.push(valid_error(
                            path_node,
                            format!(
                                "enumeration type \"{}\" does not contain the value \"{}\"",
                                enum_name, name
                            ),
                        ))
                    }
                    ConstValue::String(name) if !enum_values.contains_key(name.as_str()) => {
                        out.push(valid_error(
                            path_node,
                            format!(
                                "enumeration type \"{}\" does not contain the value \"{}\"",
                                enum_name, name
                            ),
                        ))
                    }
                    ConstValue::Enum(_) | ConstValue::String(_) => {}
                    _ => out.push(valid_error(
                        path_node,
                        format!("expected type \"{}\"", type_name),
                    )),
                },
                registry::MetaType::InputObject {
                    input_fields,
                    name: object_name,
                    oneof,
                    ..
                } => {
                    if let ConstValue::Object(values) = value {
                        if *oneof {
                            if values.len() != 1 {
                                out.push(valid_error(
                                    path_node,
                                    "Oneof input objects requires have exactly one field"
                                        .to_string(),
                                ));
                                return;
                            }

                            if let ConstValue::Null = values[0] {
                                out.push(valid_error(
                                    path_node,
                                    "Oneof Input Objects require that exactly one field must be supplied and that field must not be null"
                                        .to_string(),
                                ));
                                return;
                            }
                        }

                        let mut input_names =
                            values.keys().map(AsRef::as_ref).collect::<HashSet<_>>();

                        for field in input_fields.values() {
                            input_names.remove(&*field.name);
                            if let Some(value) = values.get(&*field.name) {
                                collect_invalid(
                                    registry,
                                    &field.ty,
                                    value,
                                    &QueryPathNode {
                                        parent: Some(path_node),
                                        segment: QueryPathSegment::Name(&field.name),
                                    },
                                    out,
                                );
                            } else if registry::MetaTypeName::create(&field.ty).is_non_null()
                                && field.default_value.is_none()
                            {
                                out.push(valid_error(
                                    path_node,
                                    format!(
                                        r#"field "{}" of type "{}" is required but not provided"#,
                                        field.name, field.ty,
                                    ),
                                ));
                            }
                        }

                        // Unknown fields in the order the client wrote them.
                        for name in values.keys().map(AsRef::as_ref) {
                            if input_names.contains(name) {
                                out.push(valid_error(
                                    path_node,
                                    format!(
                                        "unknown field \"{}\" of type \"{}\"",
                                        name, object_name
                                    ),
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
