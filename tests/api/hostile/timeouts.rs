//! Request timeout (`REQUEST_TIMEOUT_MS`): a request past it is stopped and answered 503,
//! and its statement is cancelled on the server at once; its pooled connection never makes
//! the next request wait. A client that goes away stops the work the same way.
//!
//! The slow statement is real: the test holds an exclusive lock on a table, so the app's
//! statement on it waits on the server until the lock goes or it is cancelled.

use std::time::{Duration, Instant};

use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::support::{TestApp, World};

/// Reads `feature_flags` only (the next request, `me`, never does).
const SLOW: &str = "{ featureFlags(first: 1) { nodes { key } } }";

/// An admin session holding `ACCESS EXCLUSIVE` on `table` until dropped.
pub async fn lock(w: &World, table: &str) -> AsyncPgConnection {
    let mut conn = w.db.connect().await;
    conn.batch_execute(&format!(
        "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .unwrap();
    conn
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The app's statements waiting on a lock right now.
pub async fn app_statements_waiting(w: &World) -> i64 {
    let mut conn = w.db.connect().await;
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'platform-api'
            AND wait_event_type = 'Lock' AND state = 'active'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    row.n
}

/// Polls until no statement of the app waits on a lock; returns how long that took.
async fn until_no_statement_waits(w: &World, within: Duration) -> Duration {
    let started = Instant::now();
    while app_statements_waiting(w).await > 0 {
        assert!(
            started.elapsed() < within,
            "the abandoned statement still runs on the server after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

async fn post(w: &World, token: &str, query: &str) -> (reqwest::StatusCode, Value, Duration) {
    let started = Instant::now();
    let r = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.json().await.unwrap();
    (status, body, started.elapsed())
}

async fn one_connection_world(request_timeout: Duration) -> World {
    let app = TestApp::spawn_with(|c| {
        c.database.pool_size = 1;
        c.database.statement_timeout = Duration::from_secs(60);
        c.database.pool_wait_timeout = Duration::from_secs(10);
        c.graphql.request_timeout = request_timeout;
    })
    .await;
    World::new().operator("root").build(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_stopped_and_its_statement_cancelled() {
    let w = one_connection_world(Duration::from_millis(400)).await;
    let root = w.token("root");
    // Warm: the one pooled connection exists and the viewer is known.
    let (status, body, _) = post(&w, &root, "{ apiVersion me { user { email } } }").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let lock = lock(&w, "feature_flags").await;
    let (status, body, took) = post(&w, &root, SLOW).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "answered after {took:?}"
    );
    // The statement is cancelled on the server while the lock is still held: without the
    // cancel it would wait 60 s (its statement_timeout).
    let gone = until_no_statement_waits(&w, Duration::from_secs(2)).await;
    // The next request on the same one-connection pool is not queued behind it.
    let (status, body, took) = post(&w, &root, "{ me { user { email } } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["email"], "root@example.com",
        "{body}"
    );
    assert!(
        took < Duration::from_secs(1),
        "the next request took {took:?}"
    );
    drop(lock);
    eprintln!("statement gone {gone:?} after the timeout; next request {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_stops_its_work() {
    let w = one_connection_world(Duration::from_secs(30)).await;
    let root = w.token("root");
    let (status, body, _) = post(&w, &root, "{ me { user { email } } }").await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    let lock = lock(&w, "feature_flags").await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let sent = impatient
        .post(w.url("/graphql"))
        .bearer_auth(&root)
        .json(&json!({ "query": SLOW }))
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up first");
    assert!(
        app_statements_waiting(&w).await <= 1,
        "at most the one statement of the request that went away"
    );
    let gone = until_no_statement_waits(&w, Duration::from_secs(2)).await;
    let (status, body, took) = post(&w, &root, "{ me { user { email } } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["email"], "root@example.com",
        "{body}"
    );
    assert!(
        took < Duration::from_secs(1),
        "the next request took {took:?}"
    );
    drop(lock);
    eprintln!("statement gone {gone:?} after the client left");
}
