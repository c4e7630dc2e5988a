//! The body of `POST /graphql`: one GraphQL request object, or an array of them.
//!
//! serde would also read a JSON array as a struct (its fields in order), so
//! `[["{ apiVersion }"]]` used to run as a batch of one; here each request must be a JSON
//! object.

use std::fmt;

use async_graphql::BatchRequest;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// Parses a body already known to be within the size limit.
pub fn parse(bytes: &[u8]) -> Result<BatchRequest, serde_json::Error> {
    // Decide the shape from the first byte: serde would also read `[]` as a single request.
    let is_array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if is_array {
        let requests = serde_json::from_slice::<Vec<ObjectRequest>>(bytes)?;
        Ok(BatchRequest::Batch(
            requests.into_iter().map(|r| r.0).collect(),
        ))
    } else {
        serde_json::from_slice::<ObjectRequest>(bytes).map(|r| BatchRequest::Single(r.0))
    }
}

/// A GraphQL request written as a JSON object (and nothing else).
struct ObjectRequest(async_graphql::Request);

impl<'de> Deserialize<'de> for ObjectRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;

        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = ObjectRequest;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a GraphQL request object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                async_graphql::Request::deserialize(serde::de::value::MapAccessDeserializer::new(
                    map,
                ))
                .map(ObjectRequest)
            }
        }

        deserializer.deserialize_map(ObjectOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_objects() {
        assert!(matches!(
            parse(br#"{"query":"{ a }"}"#),
            Ok(BatchRequest::Single(r)) if r.query == "{ a }"
        ));
        assert!(matches!(
            parse(br#" [{"query":"{ a }"},{"query":"{ b }"}]"#),
            Ok(BatchRequest::Batch(rs)) if rs.len() == 2
        ));
        assert!(matches!(parse(b"[]"), Ok(BatchRequest::Batch(rs)) if rs.is_empty()));
        for body in [
            r#"[["{ apiVersion }"]]"#,
            r#"["{ apiVersion }"]"#,
            r#""{ apiVersion }""#,
            r#"[{"query":"{ a }"}, ["{ b }"]]"#,
            "null",
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body} must be refused");
        }
    }
}
