//! What one connection may cost the server: message size, operations, unread output.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{all_released, close_code, query, still_serves, wait_for, ws_user};
use crate::support::TestApp;
use crate::support::ws::{Incoming, WsClient};

async fn authenticated(app: &TestApp) -> WsClient {
    WsClient::connect_authenticated(app.addr, &ws_user(app)).await
}

/// `{ apiVersion }` padded with a comment to `len` bytes of query text.
fn padded_query(id: &str, len: usize) -> String {
    let query = format!("{{ apiVersion }}\n#{}", "x".repeat(len));
    json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string()
}

#[tokio::test]
async fn a_message_over_64_kib_is_closed_with_1009() {
    let app = TestApp::spawn().await;
    let mut ws = authenticated(&app).await;
    // Just under the cap is served.
    ws.send_text(&padded_query("fits", 60 * 1024)).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(
            (&m["type"], &m["id"]),
            (&json!("next"), &json!("fits")),
            "{m}"
        ),
        other => panic!("expected next, got {other:?}"),
    }
    assert!(matches!(ws.next().await, Incoming::Json(m) if m["type"] == "complete"));
    // Over it, the socket is closed with 1009 (Message Too Big, RFC 6455), nothing runs.
    let before = app.operations();
    ws.send_text(&padded_query("big", 65 * 1024)).await;
    assert_eq!(close_code(ws.next().await), 1009);
    assert_eq!(app.state.metrics.websocket.closes(1009), 1);
    all_released(&app).await;
    assert_eq!(
        app.operations(),
        before,
        "the oversize operation did not run"
    );
    still_serves(&app).await;
}

#[tokio::test]
async fn operations_per_connection_are_capped_at_100() {
    let app = super::member_of_acme().await;
    let mut ws = authenticated(&app).await;
    let subscription = r#"subscription { featureFlagsChanged(tenantSlug: "acme") { key value } }"#;
    for i in 0..100 {
        ws.send(json!({ "id": format!("s{i}"), "type": "subscribe", "payload": { "query": subscription } }))
            .await;
    }
    for _ in 0..100 {
        match ws.next().await {
            Incoming::Json(m) => assert_eq!(m["type"], "next", "{m}"),
            other => panic!("expected next, got {other:?}"),
        }
    }
    assert_eq!(app.state.metrics.websocket.operations(), 100);
    // The 101st gets an `error` for its id; the connection stays.
    ws.send(
        json!({ "id": "extra", "type": "subscribe", "payload": { "query": "{ apiVersion }" } }),
    )
    .await;
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!(
                (&m["type"], &m["id"]),
                (&json!("error"), &json!("extra")),
                "{m}"
            );
            assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(app.state.metrics.websocket.operations(), 100);
    // Once one stops, there is room again.
    ws.send(json!({ "id": "s0", "type": "complete" })).await;
    query(&mut ws, "extra").await;
    drop(ws);
    all_released(&app).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1008() {
    let app = TestApp::spawn_with(|c| c.websocket.send_timeout = Duration::from_millis(200)).await;
    let socket = authenticated(&app).await.into_socket();
    let (mut write, mut read) = socket.split();
    // Ask for large results (GraphiQL's introspection, about 90 KiB each) and never read:
    // the socket buffers fill up (here after some 45 results, about 4 MiB).
    let introspection = include_str!("../fixtures/graphiql-introspection.graphql");
    let flood = tokio::spawn(async move {
        for i in 0..2_000 {
            let message = json!({ "id": format!("i{i}"), "type": "subscribe", "payload": { "query": introspection } });
            if write
                .send(Message::text(message.to_string()))
                .await
                .is_err()
            {
                break;
            }
        }
        write
    });
    let ws = &app.state.metrics.websocket;
    wait_for("the slow consumer is closed", || ws.closes(1008) == 1).await;
    // Its operations stopped with it.
    all_released(&app).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("platform_api_websocket_closes_total{code=\"1008\"} 1\n"),
        "{metrics}"
    );
    // The client, reading at last, finds the end of the stream: a 1008 close frame if it got
    // through the full buffers in time, else the dropped connection (a reset, which also
    // discards what the client's kernel still held).
    let drained = tokio::time::timeout(Duration::from_secs(60), async {
        let mut messages = 0usize;
        loop {
            match read.next().await {
                Some(Ok(Message::Text(_))) => messages += 1,
                Some(Ok(Message::Close(frame))) => {
                    if let Some(frame) = frame {
                        assert_eq!(u16::from(frame.code), 1008);
                    }
                    break messages;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break messages,
            }
        }
    })
    .await
    .expect("the connection ends");
    assert!(
        drained < 2 * 2_000,
        "not every result was sent: {drained} messages"
    );
    flood.abort();
    still_serves(&app).await;
}
