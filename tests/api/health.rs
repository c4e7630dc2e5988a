//! `/healthz`, `/readyz` and `/metrics`.

use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_unreachable() {
    let app = TestApp::spawn_with(|c| {
        c.database.url = Some("postgres://nobody@127.0.0.1:1/none".into());
    })
    .await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no connection details leak: {body}"
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "liveness does not depend on the database"
    );
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
}

#[tokio::test]
async fn metrics_count_operations_and_statements() {
    let app = TestApp::spawn().await;
    let scrape = || async {
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    assert!(before.contains("# TYPE platform_api_graphql_request_duration_seconds histogram"));
    app.graphql("{ schemaVersion }").await;
    app.graphql("{ apiVersion }").await;
    let after = scrape().await;
    let queries = r#"platform_api_graphql_requests_total{operation="query"}"#;
    assert_eq!(metric(&after, queries) - metric(&before, queries), 2.0);
    let statements = "platform_api_db_statements_total";
    assert_eq!(
        metric(&after, statements) - metric(&before, statements),
        1.0,
        "schemaVersion is one statement; apiVersion none"
    );
    let count = r#"platform_api_graphql_request_duration_seconds_count{operation="query"}"#;
    assert_eq!(metric(&after, count), 2.0);
}
