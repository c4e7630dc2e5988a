//! The layer in front of async-graphql's protocol machine: every client message is checked
//! against `graphql-transport-ws` here, and the ids of running operations are tracked, so
//! async-graphql only ever sees well-formed messages it handles the way the protocol says.
//!
//! What async-graphql 7.2 (`async_graphql::http::WebSocket`) does on its own, and why each
//! case is taken over here:
//!
//! | Client sends (after the ack) | async-graphql alone | here |
//! | --- | --- | --- |
//! | a second `connection_init` | 4429 | 4429 (checked here first) |
//! | `subscribe` with an id still running | replaces the running stream silently | 4409 |
//! | invalid JSON, an unknown `type`, `subscribe` without `id` or `payload` | 1002 | 4400 |
//! | `complete` for a running id | stops it and echoes `complete` | stops it, no echo |
//! | more than [`MAX_OPERATIONS`] running operations | no limit | `error` for the new id |
//!
//! The echoed `complete` is dropped because a client may reuse the id at once, and would then
//! read the echo as the end of its new operation.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::http::ClientMessage;
use serde_json::{Value, json};

use crate::error::ErrorCode;
use crate::metrics::Metrics;

/// Most operations one connection may run at once.
pub const MAX_OPERATIONS: usize = 100;

/// Close codes of the protocol (graphql-transport-ws `PROTOCOL.md`).
pub const CLOSE_BAD_MESSAGE: u16 = 4400;
/// `subscribe` before the connection was acknowledged.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// No or an invalid token, or the token expired.
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// No `connection_init` within the init timeout.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// `subscribe` with the id of an operation still running.
pub const CLOSE_DUPLICATE_ID: u16 = 4409;
/// A second `connection_init`.
pub const CLOSE_TOO_MANY_INITS: u16 = 4429;

/// A client message whose shape the protocol allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// `connection_init`, with its payload (an object or nothing).
    ConnectionInit(Option<Value>),
    /// `ping`.
    Ping(Option<Value>),
    /// `pong`.
    Pong,
    /// `subscribe`: a non-empty id and a payload with a string `query`.
    Subscribe {
        /// The operation id.
        id: String,
        /// `{query, operationName?, variables?, extensions?}`.
        payload: Value,
    },
    /// `complete` for an id.
    Complete(String),
}

/// Why a message is not a protocol message (the reason of the 4400 close).
pub type Invalid = String;

fn object_or_null(message: &Value, field: &str) -> Result<Option<Value>, Invalid> {
    match message.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(format!("\"{field}\" must be an object")),
    }
}

fn id_of(message: &Value) -> Result<String, Invalid> {
    match message.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err("\"id\" must be a non-empty string".into()),
    }
}

/// Checks one client text message against the protocol's message shapes.
pub fn parse(text: &str) -> Result<Inbound, Invalid> {
    let message: Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    if !message.is_object() {
        return Err("not a JSON object".into());
    }
    match message.get("type").and_then(Value::as_str) {
        Some("connection_init") => Ok(Inbound::ConnectionInit(object_or_null(
            &message, "payload",
        )?)),
        Some("ping") => Ok(Inbound::Ping(object_or_null(&message, "payload")?)),
        Some("pong") => object_or_null(&message, "payload").map(|_| Inbound::Pong),
        Some("subscribe") => {
            let id = id_of(&message)?;
            let payload = message
                .get("payload")
                .filter(|p| p.is_object())
                .ok_or("subscribe needs an object \"payload\"")?;
            if !payload.get("query").is_some_and(Value::is_string) {
                return Err("subscribe needs a string \"payload.query\"".into());
            }
            if !matches!(
                payload.get("operationName"),
                None | Some(Value::Null | Value::String(_))
            ) {
                return Err("\"payload.operationName\" must be a string".into());
            }
            object_or_null(payload, "variables")?;
            object_or_null(payload, "extensions")?;
            Ok(Inbound::Subscribe {
                id,
                payload: payload.clone(),
            })
        }
        Some("complete") => Ok(Inbound::Complete(id_of(&message)?)),
        Some(_) => Err("unknown message type".into()),
        None => Err("\"type\" must be a string".into()),
    }
}

/// What to do with a client message once the connection is acknowledged.
// Built and consumed at once per message: boxing the large variant would only add an
// allocation (async-graphql's `ClientMessage` is large for the same reason).
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Hand it to async-graphql.
    Forward(ClientMessage),
    /// Nothing (a `pong`, or `complete` for an id that is not running).
    Skip,
    /// Send this text to the client; async-graphql does not see the message.
    Reply(String),
    /// Close the socket.
    Close(u16, String),
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forward(_) => f.write_str("Forward"),
            Self::Skip => f.write_str("Skip"),
            Self::Reply(text) => write!(f, "Reply({text})"),
            Self::Close(code, reason) => write!(f, "Close({code}, {reason})"),
        }
    }
}

/// The ids of the operations running on one acknowledged connection.
pub struct Operations {
    running: HashSet<String>,
    /// Ids the client completed; async-graphql's echo of their `complete` is dropped.
    completed_by_client: HashSet<String>,
    metrics: Arc<Metrics>,
}

impl Operations {
    /// No operations yet.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            running: HashSet::new(),
            completed_by_client: HashSet::new(),
            metrics,
        }
    }

    /// How many operations are running.
    #[cfg(test)]
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Decides what happens to one client message (text) after the ack.
    pub fn inbound(&mut self, text: &str) -> Step {
        let message = match parse(text) {
            Ok(message) => message,
            Err(why) => {
                return Step::Close(
                    CLOSE_BAD_MESSAGE,
                    format!("Invalid message received: {why}"),
                );
            }
        };
        match message {
            Inbound::ConnectionInit(_) => Step::Close(
                CLOSE_TOO_MANY_INITS,
                "Too many initialisation requests".into(),
            ),
            Inbound::Ping(payload) => Step::Forward(ClientMessage::Ping { payload }),
            Inbound::Pong => Step::Skip,
            Inbound::Subscribe { id, payload } => {
                if self.running.contains(&id) {
                    return Step::Close(
                        CLOSE_DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    );
                }
                if self.running.len() >= MAX_OPERATIONS {
                    return Step::Reply(operation_error(
                        &id,
                        &format!(
                            "Too many operations on this connection (at most {MAX_OPERATIONS} at once)"
                        ),
                        ErrorCode::RateLimited,
                    ));
                }
                let request = match serde_json::from_value(payload) {
                    Ok(request) => request,
                    Err(_) => {
                        return Step::Close(
                            CLOSE_BAD_MESSAGE,
                            "Invalid message received: bad subscribe payload".into(),
                        );
                    }
                };
                self.running.insert(id.clone());
                self.metrics.websocket.operations_started(1);
                Step::Forward(ClientMessage::Start {
                    id,
                    payload: request,
                })
            }
            Inbound::Complete(id) => {
                if self.running.remove(&id) {
                    self.metrics.websocket.operations_ended(1);
                    self.completed_by_client.insert(id.clone());
                    Step::Forward(ClientMessage::Stop { id })
                } else {
                    Step::Skip
                }
            }
        }
    }

    /// Notes one message async-graphql is about to send; `false` when it must not be sent
    /// (the echo of a client's `complete`).
    pub fn outbound(&mut self, text: &str) -> bool {
        // async-graphql serializes the tag first: `{"type":"complete","id":…}`; only those
        // (small) messages are parsed.
        if !text.starts_with(r#"{"type":"complete""#) {
            return true;
        }
        let Some(id) = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|m| m.get("id")?.as_str().map(str::to_owned))
        else {
            return true;
        };
        if self.completed_by_client.remove(&id) {
            return false;
        }
        if self.running.remove(&id) {
            self.metrics.websocket.operations_ended(1);
        }
        true
    }
}

impl Drop for Operations {
    fn drop(&mut self) {
        // The connection ended: whatever was running stopped with it.
        self.metrics
            .websocket
            .operations_ended(self.running.len() as u64);
    }
}

/// An `error` message for operation `id`: one GraphQL error with `extensions.code`.
pub fn operation_error(id: &str, message: &str, code: ErrorCode) -> String {
    json!({
        "type": "error",
        "id": id,
        "payload": [{ "message": message, "extensions": { "code": code.as_str() } }],
    })
    .to_string()
}

/// What is sent instead of a message longer than `limit` bytes: for a `next`, a `next` for
/// the same id whose payload is one error (the operation then completes as usual); `None`
/// for anything else (the caller closes the socket).
pub fn replace_oversize(text: &str, limit: usize) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        r#type: String,
        id: String,
    }
    let head: Head = serde_json::from_str(text).ok()?;
    (head.r#type == "next").then(|| {
        json!({
            "type": "next",
            "id": head.id,
            "payload": { "errors": [{
                "message": format!("The response is larger than {limit} bytes, the most a WebSocket message may carry; ask for less"),
                "extensions": { "code": ErrorCode::BadUserInput.as_str() },
            }] },
        })
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(ops: &mut Operations, message: Value) -> Step {
        ops.inbound(&message.to_string())
    }

    fn close_code(step: Step) -> u16 {
        match step {
            Step::Close(code, _) => code,
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[test]
    fn shapes_outside_the_protocol_are_invalid() {
        for bad in [
            "nope",
            "[]",
            r#"{"id":"1"}"#,
            r#"{"type":7}"#,
            r#"{"type":"start","id":"1","payload":{"query":"{a}"}}"#,
            r#"{"type":"connection_terminate"}"#,
            r#"{"type":"next","id":"1","payload":{}}"#,
            r#"{"type":"subscribe","payload":{"query":"{a}"}}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#,
            r#"{"type":"subscribe","id":1,"payload":{"query":"{a}"}}"#,
            r#"{"type":"subscribe","id":"1"}"#,
            r#"{"type":"subscribe","id":"1","payload":{}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":[]}}"#,
            r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","operationName":1}}"#,
            r#"{"type":"complete"}"#,
            r#"{"type":"ping","payload":"x"}"#,
            r#"{"type":"connection_init","payload":[]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse(r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":null,"operationName":"A"}}"#)
                .map(|m| matches!(m, Inbound::Subscribe { .. })),
            Ok(true)
        );
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(Inbound::Ping(None)));
        assert_eq!(
            parse(r#"{"type":"connection_init"}"#),
            Ok(Inbound::ConnectionInit(None))
        );
    }

    #[test]
    fn running_ids_are_tracked_both_ways() {
        let metrics = Arc::new(Metrics::default());
        let mut ops = Operations::new(metrics.clone());
        let sub = |id: &str| json!({ "type": "subscribe", "id": id, "payload": { "query": "{ apiVersion }" } });
        assert!(matches!(step(&mut ops, sub("a")), Step::Forward(_)));
        assert_eq!(close_code(step(&mut ops, sub("a"))), CLOSE_DUPLICATE_ID);
        assert_eq!(metrics.websocket.operations(), 1);
        // The server completes `a`: its id is free again.
        assert!(ops.outbound(r#"{"type":"complete","id":"a"}"#));
        assert_eq!(ops.running(), 0);
        assert!(matches!(step(&mut ops, sub("a")), Step::Forward(_)));
        // The client completes `a`: async-graphql's echo is dropped, once.
        assert!(matches!(
            step(&mut ops, json!({ "type": "complete", "id": "a" })),
            Step::Forward(_)
        ));
        assert!(!ops.outbound(r#"{"type":"complete","id":"a"}"#));
        assert!(matches!(
            step(&mut ops, json!({ "type": "complete", "id": "a" })),
            Step::Skip
        ));
        assert!(ops.outbound(r#"{"type":"next","id":"b","payload":{}}"#));
        assert_eq!(
            close_code(step(&mut ops, json!({ "type": "connection_init" }))),
            CLOSE_TOO_MANY_INITS
        );
        assert!(matches!(step(&mut ops, sub("b")), Step::Forward(_)));
        drop(ops);
        assert_eq!(metrics.websocket.operations(), 0);
    }

    #[test]
    fn oversize_results_become_an_error() {
        let big =
            json!({ "type": "next", "id": "q", "payload": { "data": { "a": "x".repeat(100) } } })
                .to_string();
        let m: Value = serde_json::from_str(&replace_oversize(&big, 50).unwrap()).unwrap();
        assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!("q")));
        assert_eq!(
            m["payload"]["errors"][0]["extensions"]["code"],
            "BAD_USER_INPUT"
        );
        assert!(m["payload"].get("data").is_none());
        assert_eq!(replace_oversize(r#"{"type":"pong"}"#, 5), None);
    }

    #[test]
    fn operations_per_connection_are_capped() {
        let metrics = Arc::new(Metrics::default());
        let mut ops = Operations::new(metrics.clone());
        for i in 0..MAX_OPERATIONS {
            let m = json!({ "type": "subscribe", "id": i.to_string(), "payload": { "query": "{ apiVersion }" } });
            assert!(matches!(step(&mut ops, m), Step::Forward(_)));
        }
        let extra =
            json!({ "type": "subscribe", "id": "extra", "payload": { "query": "{ apiVersion }" } });
        match step(&mut ops, extra) {
            Step::Reply(text) => {
                let m: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(m["type"], "error");
                assert_eq!(m["id"], "extra");
                assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED");
            }
            other => panic!("expected an error reply, got {other:?}"),
        }
        assert_eq!(metrics.websocket.operations(), MAX_OPERATIONS as u64);
    }
}
