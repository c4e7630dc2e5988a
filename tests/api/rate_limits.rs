//! Request rate limits: per client IP without a token, per user with one, stricter for
//! mutations, and by cost for expensive operations; `RATE_LIMITED` with an honest
//! `Retry-After`, HTTP 429 for whole requests.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestApp, World};
use platform_api::http::limits::Rate;

async fn post_from(app: &TestApp, forwarded_for: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.client.post(app.url("/graphql")).json(body);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

const QUERY: &str = "{ apiVersion }";

#[tokio::test]
async fn anonymous_callers_are_limited_per_ip_behind_a_trusted_proxy() {
    let app = TestApp::spawn_with(|c| {
        c.limits.anonymous = Rate {
            count: 2,
            period: Duration::from_secs(2),
        };
        c.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let query = json!({ "query": QUERY });
    for _ in 0..2 {
        let r = post_from(&app, Some("198.51.100.1"), &query).await;
        assert_eq!(r.status(), 200);
    }
    let before = app.operations();
    let r = post_from(&app, Some("198.51.100.1"), &query).await;
    assert_eq!(r.status(), 429);
    let wait = retry_after(&r);
    assert_eq!(wait, 1, "one request is earned back every second");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], wait);
    assert!(body["data"].is_null());
    // Another client behind the same proxy is unaffected.
    let r = post_from(&app, Some("198.51.100.2"), &query).await;
    assert_eq!(r.status(), 200);
    // A forged hop to the left of the real one changes nothing: the proxy appended the
    // client's address last.
    let r = post_from(&app, Some("203.0.113.7, 198.51.100.1"), &query).await;
    assert_eq!(r.status(), 429);
    // Retry-After is honest: after it, the request passes.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = post_from(&app, Some("198.51.100.1"), &query).await;
    assert_eq!(r.status(), 200);
    assert!(app.operations() > before);
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = TestApp::spawn_with(|c| {
        c.limits.anonymous = Rate {
            count: 2,
            period: Duration::from_secs(60),
        };
    })
    .await;
    let query = json!({ "query": QUERY });
    assert_eq!(
        post_from(&app, Some("198.51.100.1"), &query).await.status(),
        200
    );
    assert_eq!(
        post_from(&app, Some("198.51.100.2"), &query).await.status(),
        200
    );
    let r = post_from(&app, Some("198.51.100.3"), &query).await;
    assert_eq!(
        r.status(),
        429,
        "every request counted against the peer 127.0.0.1"
    );
    assert!((29..=30).contains(&retry_after(&r)), "{}", retry_after(&r));
}

#[tokio::test]
async fn signed_in_callers_are_limited_per_user_and_mutations_more() {
    let w = World::new()
        .operator("root")
        .user("bob")
        .user("alice")
        .build(
            TestApp::spawn_with(|c| {
                c.limits.user = Rate::per_minute(3);
                c.limits.mutations = Rate::per_minute(1);
            })
            .await,
        )
        .await;
    for _ in 0..3 {
        let body = w.query("bob", QUERY).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let r = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(w.token("bob"))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!((19..=20).contains(&retry_after(&r)), "{}", retry_after(&r));
    // Another user, from the same address, is unaffected.
    let body = w.query("alice", QUERY).await;
    assert!(body.get("errors").is_none(), "{body}");

    // Mutations: one per minute, while queries still pass.
    let mutation =
        r#"mutation { createPartner(input: { slug: "p-one", name: "P" }) { partner { slug } } }"#;
    let body = w.query("root", mutation).await;
    assert_eq!(
        body["data"]["createPartner"]["partner"]["slug"], "p-one",
        "{body}"
    );
    let second =
        r#"mutation { createPartner(input: { slug: "p-two", name: "P" }) { partner { slug } } }"#;
    let r = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(w.token("root"))
        .json(&json!({ "query": second }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let body = w
        .query("root", r#"{ partner(slug: "p-two") { slug } }"#)
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "not created: {body}"
    );
}

#[tokio::test]
async fn a_batch_counts_each_operation_and_answers_200_when_some_ran() {
    let app = TestApp::spawn_with(|c| c.limits.anonymous = Rate::per_minute(2)).await;
    let r = app
        .post(&json!([{ "query": QUERY }, { "query": QUERY }, { "query": QUERY }]))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body[1]["data"]["apiVersion"].is_string(), "{body}");
    assert_eq!(
        body[2]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    let r = app.post(&json!([{ "query": QUERY }])).await;
    assert_eq!(r.status(), 429, "every operation refused");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn expensive_operations_count_more_against_the_limit() {
    let w = World::new()
        .operator("root")
        .operator("ops")
        .build(
            TestApp::spawn_with(|c| {
                c.limits.user = Rate::per_minute(20);
                c.limits.cost_unit = 100;
            })
            .await,
        )
        .await;
    // 90 × (1 + 10) = 990 points: counts 1 + 9 = 10 operations.
    let aliases: Vec<String> = (0..90)
        .map(|i| format!("a{i}: tenants(first: 1) {{ totalCount }}"))
        .collect();
    let expensive = format!("{{ {} }}", aliases.join(" "));
    for _ in 0..2 {
        let body = w.query("root", &expensive).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let statements = w.statements();
    let r = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(w.token("root"))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "two expensive queries used the 20 allowed");
    let wait = retry_after(&r);
    assert!((1..=3).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(
        w.statements(),
        statements,
        "a refused operation sends no SQL"
    );
    // Another user is unaffected, and an expensive query refused for its cost runs nothing.
    let body = w.query("ops", &expensive).await;
    assert!(body.get("errors").is_none(), "{body}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let body = w.query("root", QUERY).await;
    assert!(
        body.get("errors").is_none(),
        "a cheap one passes after the wait: {body}"
    );
    let statements = w.statements();
    let r = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(w.token("root"))
        .json(&json!({ "query": expensive }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "its cost does not fit what was earned back"
    );
    assert_eq!(w.statements(), statements);
}
