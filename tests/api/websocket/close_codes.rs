//! The close codes of `graphql-transport-ws` (PROTOCOL.md), one test each, and what must not
//! happen around them.

use std::time::Duration;

use serde_json::json;

use super::{all_released, close_code, member_of_acme, query, still_serves, ws_user};
use crate::support::TestApp;
use crate::support::ws::{Incoming, WsClient};

/// Starts `featureFlagsChanged` under `id` and waits for its first values (it is running).
async fn subscribe_flags(ws: &mut WsClient, id: &str) {
    ws.send(json!({ "id": id, "type": "subscribe", "payload": {
        "query": r#"subscription { featureFlagsChanged(tenantSlug: "acme") { key value } }"#
    } }))
    .await;
    match ws.next().await {
        Incoming::Json(m) if m["type"] == "next" && m["id"] == id => {
            assert!(
                m["payload"]["data"]["featureFlagsChanged"].is_array(),
                "{m}"
            );
        }
        other => panic!("expected the first values, got {other:?}"),
    }
}

async fn authenticated(app: &TestApp) -> WsClient {
    WsClient::connect_authenticated(app.addr, &ws_user(app)).await
}

#[tokio::test]
async fn no_init_within_the_timeout_is_4408() {
    let app = TestApp::spawn_with(|c| c.websocket.init_timeout = Duration::from_millis(300)).await;
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    // A ping is answered before the init, but does not extend the deadline.
    ws.send(json!({ "type": "ping" })).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m, json!({ "type": "pong" })),
        other => panic!("expected pong, got {other:?}"),
    }
    match ws.next().await {
        Incoming::Closed(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4408);
            assert_eq!(frame.reason.as_str(), "Connection initialisation timeout");
        }
        other => panic!("expected 4408, got {other:?}"),
    }
    assert_eq!(app.state.metrics.websocket.closes(4408), 1);
    assert_eq!(
        app.statements(),
        0,
        "nothing was read for the silent client"
    );
    // A client that does send its init in time is served.
    still_serves(&app).await;
    all_released(&app).await;
}

#[tokio::test]
async fn a_second_init_is_4429() {
    let app = TestApp::spawn().await;
    let token = ws_user(&app);
    let mut ws = authenticated(&app).await;
    query(&mut ws, "1").await;
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(close_code(ws.next().await), 4429);
    assert_eq!(app.state.metrics.websocket.closes(4429), 1);
    all_released(&app).await;
    still_serves(&app).await;
}

#[tokio::test]
async fn reusing_a_running_id_is_4409_and_nothing_leaks() {
    let app = member_of_acme().await;
    let mut ws = authenticated(&app).await;
    subscribe_flags(&mut ws, "live").await;
    assert_eq!(app.state.metrics.websocket.operations(), 1);
    // Same id while `live` runs: async-graphql alone would silently replace it.
    ws.send(json!({ "id": "live", "type": "subscribe", "payload": { "query": "{ apiVersion }" } }))
        .await;
    match ws.next().await {
        Incoming::Closed(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4409);
            assert_eq!(frame.reason.as_str(), "Subscriber for live already exists");
        }
        other => panic!("expected 4409, got {other:?}"),
    }
    assert_eq!(app.state.metrics.websocket.closes(4409), 1);
    // The first subscription ended with its socket.
    all_released(&app).await;
    still_serves(&app).await;
}

#[tokio::test]
async fn an_id_is_free_again_once_its_operation_completed() {
    let app = member_of_acme().await;
    let mut ws = authenticated(&app).await;
    // Completed by the server: the id may be used again.
    query(&mut ws, "q").await;
    query(&mut ws, "q").await;
    // Completed by the client, reused at once: the next message for the id belongs to the
    // new operation (no stray `complete` from the old one).
    subscribe_flags(&mut ws, "f").await;
    ws.send(json!({ "id": "f", "type": "complete" })).await;
    query(&mut ws, "f").await;
    // `complete` for an unknown id is ignored.
    ws.send(json!({ "id": "nope", "type": "complete" })).await;
    ws.send(json!({ "type": "ping" })).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "pong", "{m}"),
        other => panic!("expected pong, got {other:?}"),
    }
    assert_eq!(app.state.metrics.websocket.operations(), 0);
    drop(ws);
    all_released(&app).await;
}

#[tokio::test]
async fn malformed_messages_after_the_ack_are_4400() {
    let app = member_of_acme().await;
    let cases = [
        ("not JSON", "{\"type\": \"subscribe\",".to_owned()),
        ("JSON but no object", "[1, 2]".to_owned()),
        ("no type", json!({ "id": "1" }).to_string()),
        ("unknown type", json!({ "type": "start", "id": "1", "payload": { "query": "{ apiVersion }" } }).to_string()),
        ("another protocol's terminate", json!({ "type": "connection_terminate" }).to_string()),
        ("a server message", json!({ "type": "next", "id": "1", "payload": {} }).to_string()),
        ("subscribe without id", json!({ "type": "subscribe", "payload": { "query": "{ apiVersion }" } }).to_string()),
        ("subscribe with an empty id", json!({ "type": "subscribe", "id": "", "payload": { "query": "{ apiVersion }" } }).to_string()),
        ("subscribe without payload", json!({ "type": "subscribe", "id": "1" }).to_string()),
        ("subscribe without query", json!({ "type": "subscribe", "id": "1", "payload": { "variables": {} } }).to_string()),
        ("variables not an object", json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ apiVersion }", "variables": [1] } }).to_string()),
        ("complete without id", json!({ "type": "complete" }).to_string()),
    ];
    for (what, text) in &cases {
        let mut ws = authenticated(&app).await;
        // A running subscription, which must end with the socket.
        subscribe_flags(&mut ws, "live").await;
        ws.send_text(text).await;
        match ws.next().await {
            Incoming::Closed(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4400, "{what}");
                assert!(
                    frame
                        .reason
                        .as_str()
                        .starts_with("Invalid message received"),
                    "{what}: {}",
                    frame.reason
                );
            }
            other => panic!("{what}: expected 4400, got {other:?}"),
        }
    }
    let mut ws = authenticated(&app).await;
    ws.send_binary(vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(
        close_code(ws.next().await),
        4400,
        "binary that is not UTF-8"
    );
    assert_eq!(
        app.state.metrics.websocket.closes(4400),
        cases.len() as u64 + 1
    );
    all_released(&app).await;
    still_serves(&app).await;
}
