//! Finding 1: a fragment bomb (each fragment spreads the next one twice) is refused by a
//! linear pass before async-graphql's recursion check and validation, which would walk it
//! 2^levels times; meanwhile the server keeps answering others.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::TestApp;
use crate::support::app::first_error_code;

/// `levels` fragments, each spreading the next one twice.
pub fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query Bomb { ...F1 }\n");
    for i in 1..levels {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ apiVersion }}\n"));
    query
}

#[tokio::test]
async fn fragment_bombs_are_refused_without_expanding_them() {
    let app = TestApp::spawn().await;
    let before = app.statements();
    // 30 levels stays under the parser's recursion limit (32), so only the expansion
    // check stands between it and 2^30 steps; 40 levels is the acceptance case.
    for levels in [30, 40] {
        let started = Instant::now();
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": fragment_bomb(levels) }))
            .send()
            .await
            .unwrap();
        // A guard against a hang, not a benchmark: unguarded, 30 levels takes minutes.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{levels} levels"
        );
        assert_eq!(
            response.status(),
            400,
            "a request error under the modern media type"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "query");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("selections"),
            "{body}"
        );
    }
    assert_eq!(app.statements(), before, "nothing ran");
    // A small fragment tree of the same shape is still fine.
    let body = app.graphql(&fragment_bomb(4)).await;
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );
}

#[tokio::test]
async fn the_server_answers_others_while_bombs_arrive() {
    let app = TestApp::spawn().await;
    let bombs: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/graphql");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({ "query": fragment_bomb(40) }))
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body = app.graphql("{ apiVersion }").await;
    assert!(body["data"]["apiVersion"].is_string(), "{body}");
    for bomb in bombs {
        let body = bomb.await.unwrap();
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    }
}

#[tokio::test]
async fn the_selection_limit_comes_from_configuration() {
    let app = TestApp::spawn_with(|c| c.graphql.max_selections = 3).await;
    let body = app
        .graphql("{ a: apiVersion b: apiVersion c: apiVersion }")
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .graphql("{ a: apiVersion b: apiVersion c: apiVersion d: apiVersion }")
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    // Spreads count as what they expand to: 1 (spread) + 3 (fragment) + 3 (definition).
    let app = TestApp::spawn_with(|c| c.graphql.max_selections = 6).await;
    let body = app
        .graphql("{ ...F } fragment F on Query { a: apiVersion b: apiVersion c: apiVersion }")
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}

/// CPU time this thread has used (the first field of `/proc/thread-self/schedstat`, in ns).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("CPU time in ns");
    Duration::from_nanos(ns)
}

/// The server runs on this test's single-threaded runtime, so the thread's CPU time around a
/// request is the server's work on it (plus the client's, which only makes the bound
/// stricter), whatever other tests run meanwhile.
#[tokio::test(flavor = "current_thread")]
async fn a_40_level_bomb_costs_under_100_ms_of_server_cpu() {
    let app = TestApp::spawn().await;
    let bomb = json!({ "query": fragment_bomb(40) });
    // Warm the connection and the code paths first.
    let _ = app.post(&json!({ "query": "{ apiVersion }" })).await;
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let before = thread_cpu();
        let response = app.post(&bomb).await;
        let body: serde_json::Value = response.json().await.unwrap();
        let used = thread_cpu() - before;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        worst = worst.max(used);
    }
    eprintln!("40-level fragment bomb: at most {worst:?} of CPU per request (server and client)");
    assert!(worst < Duration::from_millis(100), "{worst:?}");
}
