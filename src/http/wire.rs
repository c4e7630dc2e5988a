//! The bytes of a GraphQL response (GraphQL spec §7.1, GraphQL over HTTP).
//!
//! - `errors` first when present (the specification's suggestion), then `data`, then
//!   `extensions`;
//! - a request refused before execution (a parse or validation error, an unknown operation)
//!   has **no** `data` key; once execution started, `data` is always there, `null` included
//!   (a field error that propagated to the root);
//! - `data` keeps the engine's key order, which is the selection set's.

use std::collections::BTreeMap;

use async_graphql::{BatchResponse, Response, ServerError, Value};
use serde::Serialize;

/// One response as sent.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

impl<'a> From<&'a Response> for Wire<'a> {
    fn from(response: &'a Response) -> Self {
        Self {
            errors: &response.errors,
            data: (!is_request_error(response)).then_some(&response.data),
            extensions: &response.extensions,
        }
    }
}

/// Whether the request was refused before it executed: no data, and only errors that are
/// about no field (field errors always carry a path).
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Serialises a single or batched response.
pub fn to_vec(response: &BatchResponse) -> serde_json::Result<Vec<u8>> {
    match response {
        BatchResponse::Single(r) => serde_json::to_vec(&Wire::from(r)),
        BatchResponse::Batch(rs) => {
            serde_json::to_vec(&rs.iter().map(Wire::from).collect::<Vec<_>>())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, PathSegment, Pos};

    fn text(response: Response) -> String {
        String::from_utf8(to_vec(&BatchResponse::Single(response)).unwrap()).unwrap()
    }

    fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (Name::new(k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn data_keeps_its_key_order() {
        let data = object(&[("schemaVersion", "x".into()), ("apiVersion", "y".into())]);
        assert_eq!(
            text(Response::new(data)),
            r#"{"data":{"schemaVersion":"x","apiVersion":"y"}}"#
        );
    }

    #[test]
    fn refused_requests_have_no_data_key() {
        let refused = Response::from_errors(vec![ServerError::new(
            "Syntax error",
            Some(Pos { line: 1, column: 2 }),
        )]);
        assert_eq!(
            text(refused),
            r#"{"errors":[{"message":"Syntax error","locations":[{"line":1,"column":2}]}]}"#
        );
    }

    #[test]
    fn a_null_from_propagation_keeps_data() {
        let mut error = ServerError::new("gone", None);
        error.path = vec![PathSegment::Field("tenant".into())];
        let propagated = Response::from_errors(vec![error]);
        assert_eq!(
            text(propagated),
            r#"{"errors":[{"message":"gone","path":["tenant"]}],"data":null}"#
        );
    }

    #[test]
    fn batches_are_arrays_of_responses() {
        let batch = BatchResponse::Batch(vec![
            Response::new(object(&[("a", 1.into())])),
            Response::from_errors(vec![ServerError::new("bad", None)]),
        ]);
        assert_eq!(
            String::from_utf8(to_vec(&batch).unwrap()).unwrap(),
            r#"[{"data":{"a":1}},{"errors":[{"message":"bad"}]}]"#
        );
    }
}
