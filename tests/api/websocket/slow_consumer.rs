//! Finding 2: a client that stops reading cannot park the pool. Its operations that were
//! waiting for PostgreSQL finish in their own tasks and give their connections back, so
//! others' requests are served meanwhile, not refused after the pool wait.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::ws_user;
use crate::support::app::first_error_code;
use crate::support::ws::WsClient;
use crate::support::{TestApp, Token};

// Two workers, as on the production machine: the slow socket's operations and the other
// client's requests run side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_does_not_hold_pooled_connections() {
    // A small pool, and a long send timeout so the slow socket stays open throughout.
    let app = TestApp::spawn_with(|c| {
        c.database.pool_size = 2;
        c.websocket.send_timeout = Duration::from_secs(60);
    })
    .await;
    let other = Token::portal("other").sign(&app);
    let ordinary = "{ me { user { email } } tenants(first: 5) { totalCount } }";
    let mut usual = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let body = app.graphql_as(&other, ordinary).await;
        assert!(body.get("errors").is_none(), "{body}");
        usual = usual.max(started.elapsed());
    }

    let socket = WsClient::connect_authenticated(app.addr, &ws_user(&app))
        .await
        .into_socket();
    let (mut write, _read) = socket.split();
    // Large results (introspection, ~90 KiB each) fill the socket buffers (about 4 MiB);
    // between them, operations that each take a pooled connection. The client sends until
    // the server stops reading.
    let introspection = include_str!("../fixtures/graphiql-introspection.graphql");
    let flood = tokio::spawn(async move {
        for i in 0..1_000 {
            let query = if i % 10 == 0 { ordinary } else { introspection };
            let message = json!({ "id": format!("o{i}"), "type": "subscribe", "payload": { "query": query } });
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
    // The server runs into the full buffers and stops reading, so at most 100 operations of
    // the socket run. Each finishes its work and returns its connection: the pool goes
    // idle while the socket is still unread. (Before, an operation that was waiting for
    // PostgreSQL when the writer blocked kept its connection until the socket closed.)
    let pool_idle = Instant::now() + Duration::from_secs(30);
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        let status = app.state.pool.status();
        if status.available == status.size && status.waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < pool_idle,
            "the unread socket keeps pooled connections: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.state.metrics.websocket.connections(),
        1,
        "the socket is still open"
    );

    let mut slowest = Duration::ZERO;
    let mut all = Vec::new();
    for i in 0..50 {
        let started = Instant::now();
        let body = app.graphql_as(&other, ordinary).await;
        assert!(
            body.get("errors").is_none(),
            "query {i} failed while a socket is not read: {} {body}",
            first_error_code(&body)
        );
        slowest = slowest.max(started.elapsed());
        all.push(started.elapsed().as_millis());
    }
    // A parked pool would show as the 2 s pool wait; the usual latency is milliseconds.
    assert!(
        slowest < Duration::from_secs(1).max(usual * 2),
        "slowest {slowest:?}, usual {usual:?}: {all:?}"
    );
    assert_eq!(
        app.state.metrics.websocket.connections(),
        1,
        "the slow socket is still open"
    );
    flood.abort();
}
