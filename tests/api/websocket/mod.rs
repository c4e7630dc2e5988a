//! GraphQL over WebSocket (`graphql-transport-ws`) on `/graphql`, authentication included.
//! Every close code of the protocol is in `close_codes`, the caps in `limits`.

mod close_codes;
mod limits;
mod slow_consumer;

use std::time::{Duration, Instant};

use platform_api::metrics::OperationKind;
use serde_json::json;

use crate::support::ws::{Incoming, WsClient};
use crate::support::{Role, TestApp, Token, World};

/// A portal token of `ws-user`, who needs no rows: the first request creates the user.
fn ws_user(app: &TestApp) -> String {
    Token::portal("ws-user").sign(app)
}

/// A tenant `acme` with `ws-user` as a member, so `featureFlagsChanged` runs until stopped.
async fn member_of_acme() -> World {
    World::new()
        .tenant("acme")
        .member("ws-user", "acme", Role::Member)
        .spawn()
        .await
}

fn close_code(incoming: Incoming) -> u16 {
    match incoming {
        Incoming::Closed(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Waits (generously) until `done` holds; the test fails if it never does.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the app has no socket open and no operation running on one: nothing leaked.
async fn all_released(app: &TestApp) {
    let ws = &app.state.metrics.websocket;
    wait_for("every socket and operation released", || {
        ws.connections() == 0 && ws.operations() == 0
    })
    .await;
}

/// A query over the socket answers `next` then `complete` for its id.
async fn query(ws: &mut WsClient, id: &str) {
    ws.send(json!({ "id": id, "type": "subscribe", "payload": { "query": "{ apiVersion }" } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!(id)), "{m}");
            assert_eq!(
                m["payload"]["data"]["apiVersion"],
                env!("CARGO_PKG_VERSION")
            );
        }
        other => panic!("expected next, got {other:?}"),
    }
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(
            (&m["type"], &m["id"]),
            (&json!("complete"), &json!(id)),
            "{m}"
        ),
        other => panic!("expected complete, got {other:?}"),
    }
}

/// A fresh connection still works: the app serves after whatever the test did.
async fn still_serves(app: &TestApp) {
    let mut ws = WsClient::connect_authenticated(app.addr, &ws_user(app)).await;
    query(&mut ws, "after").await;
}

#[tokio::test]
async fn speaks_graphql_transport_ws() {
    let app = TestApp::spawn().await;
    let token = ws_user(&app);
    let mut ws = WsClient::connect_authenticated(app.addr, &token).await;
    ws.send(json!({ "type": "ping" })).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "pong"),
        other => panic!("expected pong, got {other:?}"),
    }
    // An operation over the socket answers next + complete, as the token's user.
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ apiVersion me { user { name } } }" } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!(m["type"], "next", "{m}");
            assert_eq!(
                m["payload"]["data"]["apiVersion"],
                env!("CARGO_PKG_VERSION")
            );
            assert!(m["payload"]["data"]["me"]["user"].is_object(), "{m}");
        }
        other => panic!("expected next, got {other:?}"),
    }
    match ws.next().await {
        Incoming::Json(m) => assert_eq!((&m["type"], &m["id"]), (&json!("complete"), &json!("1"))),
        other => panic!("expected complete, got {other:?}"),
    }
    // The operation is counted as a query (streams are recorded when they end).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while app.state.metrics.operations(OperationKind::Query) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "query over the socket not counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.state.metrics.operations(OperationKind::Subscription), 0);
}

#[tokio::test]
async fn other_subprotocols_are_refused() {
    let app = TestApp::spawn().await;
    assert!(WsClient::connect(app.addr, None).await.is_err());
    assert!(
        WsClient::connect(app.addr, Some("graphql-ws"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn init_without_a_valid_token_is_closed_with_4403() {
    let app = TestApp::spawn().await;
    let wrong_audience = Token::portal("x").audience("someone-else").sign(&app);
    for payload in [
        json!(null),
        json!({}),
        json!({ "Authorization": "Basic dXNlcg==" }),
        json!({ "Authorization": "Bearer not-a-jwt" }),
        json!({ "token": wrong_audience }),
    ] {
        let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
            .await
            .unwrap();
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(close_code(ws.next().await), 4403, "{payload}");
    }
    let statements = app.statements();
    assert_eq!(statements, 0, "refused sockets touch no data");
}

#[tokio::test]
async fn subscribe_before_init_is_4401_and_garbage_first_is_4400() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ apiVersion }" } }))
        .await;
    assert_eq!(close_code(ws.next().await), 4401);
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    ws.send(json!("not a message")).await;
    assert_eq!(close_code(ws.next().await), 4400);
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    ws.send(json!({ "type": "connection_init", "payload": "Bearer x" }))
        .await;
    assert_eq!(
        close_code(ws.next().await),
        4400,
        "a payload must be an object"
    );
    let ws = &app.state.metrics.websocket;
    assert_eq!((ws.closes(4401), ws.closes(4400)), (1, 2));
}

#[tokio::test]
async fn sockets_close_with_4403_when_the_token_expires() {
    let app = TestApp::spawn_with(|c| c.auth.leeway = Duration::ZERO).await;
    let token = Token::portal("short")
        .ttl(Duration::from_secs(2))
        .sign(&app);
    let mut ws = WsClient::connect_authenticated(app.addr, &token).await;
    // Nothing is sent; the server closes the socket when `exp` passes.
    assert_eq!(close_code(ws.next().await), 4403);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect_authenticated(app.addr, &ws_user(&app)).await;
    app.state.shutdown.cancel();
    assert_eq!(close_code(ws.next().await), 1001);
}

#[tokio::test]
async fn messages_larger_than_the_read_buffer_arrive_whole() {
    // The read buffer is 4 KiB; a 60 KiB operation (within the 64 KiB limit) still arrives
    // in one piece and is answered.
    let app = TestApp::spawn().await;
    let token = Token::portal("ws-big").sign(&app);
    let mut ws = WsClient::connect_authenticated(app.addr, &token).await;
    let query = format!("{{ apiVersion }}\n#{}", "x".repeat(60 * 1024));
    ws.send(json!({ "id": "big", "type": "subscribe", "payload": { "query": query } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!(m["type"], "next", "{m}");
            assert_eq!(
                m["payload"]["data"]["apiVersion"],
                env!("CARGO_PKG_VERSION")
            );
        }
        other => panic!("expected next, got {other:?}"),
    }
}
