//! GraphQL over WebSocket (`graphql-transport-ws`) on `/graphql`.

use platform_api::metrics::OperationKind;
use serde_json::json;

use crate::support::TestApp;
use crate::support::ws::{Incoming, WsClient};

#[tokio::test]
async fn speaks_graphql_transport_ws() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    ws.send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "connection_ack"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
    ws.send(json!({ "type": "ping" })).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "pong"),
        other => panic!("expected pong, got {other:?}"),
    }
    // A query over the socket answers next + complete.
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ apiVersion }" } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!(m["type"], "next");
            assert_eq!(
                m["payload"]["data"]["apiVersion"],
                env!("CARGO_PKG_VERSION")
            );
        }
        other => panic!("expected next, got {other:?}"),
    }
    match ws.next().await {
        Incoming::Json(m) => assert_eq!((&m["type"], &m["id"]), (&json!("complete"), &json!("1"))),
        other => panic!("expected complete, got {other:?}"),
    }
    // The operation is counted as a query (streams are recorded when they end).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.state.metrics.operations(OperationKind::Query) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "query over the socket not counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
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
async fn shutdown_closes_sockets_with_1001() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect(app.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    ws.send(json!({ "type": "connection_init" })).await;
    assert!(matches!(ws.next().await, Incoming::Json(_)));
    app.state.shutdown.cancel();
    match ws.next().await {
        Incoming::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
}
