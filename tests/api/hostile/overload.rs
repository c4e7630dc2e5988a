//! Overload answers: a pool that stays exhausted answers `SERVICE_UNAVAILABLE` within the
//! pool wait, as HTTP 503 with `Retry-After`; when too many requests already wait for a
//! connection, a new one is refused at once, before the pool.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::timeouts::{app_statements_waiting, lock};
use crate::support::{TestApp, World};

async fn post(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (reqwest::StatusCode, Option<String>, Value, Duration) {
    let started = Instant::now();
    let mut r = app.client.post(app.url("/graphql"));
    if !token.is_empty() {
        r = r.bearer_auth(token);
    }
    let r = r.json(&json!({ "query": query })).send().await.unwrap();
    let status = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap(), started.elapsed())
}

async fn world(max_waiting: usize, pool_wait: Duration) -> World {
    let app = TestApp::spawn_with(|c| {
        c.database.pool_size = 1;
        c.database.pool_wait_timeout = pool_wait;
        c.database.pool_max_waiting = max_waiting;
        c.database.statement_timeout = Duration::from_secs(60);
    })
    .await;
    World::new().operator("root").build(app).await
}

/// Holds the only pooled connection with a request stuck on a lock; returns once its
/// statement waits on the server.
async fn hold_the_pool(w: &std::sync::Arc<World>) -> tokio::task::JoinHandle<()> {
    let busy = std::sync::Arc::clone(w);
    let token = w.token("root");
    let task = tokio::spawn(async move {
        let _ = post(&busy, &token, "{ tenants { totalCount } }").await;
    });
    let started = Instant::now();
    while app_statements_waiting(w).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "never blocked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_503_with_retry_after_within_the_pool_wait() {
    let w = std::sync::Arc::new(world(100, Duration::from_millis(300)).await);
    let root = w.token("root");
    let (status, _, _, _) = post(&w, &root, "{ me { user { email } } }").await;
    assert_eq!(status, 200);
    let lock = lock(&w, "tenants").await;
    let busy = hold_the_pool(&w).await;
    let (status, retry, body, took) = post(&w, &root, "{ partners { totalCount } }").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 1);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "answered after {took:?}, the pool wait is 300 ms"
    );
    // A request that needs no connection is still served, with 200.
    let (status, retry, body, _) = post(&w, "", "{ apiVersion }").await;
    assert_eq!(status, 200, "{body}");
    assert!(retry.is_none());
    drop(lock);
    busy.await.unwrap();
    let (status, _, body, _) = post(&w, &root, "{ partners { totalCount } }").await;
    assert_eq!(status, 200, "served again: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_queue_sheds_new_requests_before_the_pool() {
    let w = std::sync::Arc::new(world(2, Duration::from_secs(1)).await);
    let root = w.token("root");
    let (status, _, _, _) = post(&w, &root, "{ me { user { email } } }").await;
    assert_eq!(status, 200);
    let lock = lock(&w, "tenants").await;
    let busy = hold_the_pool(&w).await;
    // Two requests queue for the one connection (the allowed queue)...
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let w = std::sync::Arc::clone(&w);
            let root = root.clone();
            tokio::spawn(async move { post(&w, &root, "{ partners { totalCount } }").await })
        })
        .collect();
    let started = Instant::now();
    while w.state.pool.status().waiting < 2 {
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "never queued"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ...so the next is refused at once, without waiting the pool's 1 s.
    let statements = w.statements();
    let (status, retry, body, took) = post(&w, &root, "{ partners { totalCount } }").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    assert!(took < Duration::from_millis(150), "shed after {took:?}");
    assert_eq!(w.statements(), statements, "a shed request sends no SQL");
    for q in queued {
        let (status, retry, _, took) = q.await.unwrap();
        assert_eq!(status, 503);
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }
    drop(lock);
    busy.await.unwrap();
    let (status, _, body, _) = post(&w, &root, "{ partners { totalCount } }").await;
    assert_eq!(status, 200, "served again: {body}");
}
