//! Query limits refuse a request before it executes: no SQL is sent.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::app::first_error_code;

#[tokio::test]
async fn too_deep_queries_are_refused_without_sql() {
    // The schema has no recursive types yet, so the limit is lowered to show it at work.
    let app = TestApp::spawn_with(|c| c.graphql.max_depth = 1).await;
    let before = app.statements();
    let body = app
        .graphql(r#"{ schemaVersion node(id: "x") { id } }"#)
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    assert_eq!(body["data"], Value::Null);
    assert_eq!(app.statements(), before, "a refused query sends no SQL");
    let body = app.graphql("{ schemaVersion }").await;
    assert!(
        body["data"]["schemaVersion"].is_string(),
        "depth 1 passes: {body}"
    );
}

#[tokio::test]
async fn graphiql_introspection_passes_the_limits() {
    // The exact introspection query GraphiQL sends (graphql-js getIntrospectionQuery).
    let app = TestApp::spawn().await;
    let query = include_str!("fixtures/graphiql-introspection.graphql");
    let body = app.graphql(query).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn too_complex_queries_are_refused_without_sql() {
    let app = TestApp::spawn().await;
    let fields = |n: usize| {
        (0..n)
            .map(|i| format!("v{i}: schemaVersion"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let before = app.statements();
    let body = app.graphql(&format!("{{ {} }}", fields(1001))).await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );
    assert_eq!(app.statements(), before, "a refused query sends no SQL");
    // The limit itself is allowed, and then the fields do run.
    let body = app.graphql(&format!("{{ {} }}", fields(1000))).await;
    assert!(body.get("errors").is_none());
    assert!(app.statements() > before);
}

#[tokio::test]
async fn limits_come_from_configuration() {
    let app = TestApp::spawn_with(|c| c.graphql.max_complexity = 2).await;
    let body = app
        .graphql("{ a: apiVersion b: apiVersion c: apiVersion }")
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    let body = app.graphql("{ a: apiVersion b: apiVersion }").await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn pathological_nesting_is_refused_by_the_parser() {
    let app = TestApp::spawn().await;
    let query = format!(
        "{}{}",
        "{ a: apiVersion ... on Query ".repeat(200),
        "}".repeat(200)
    );
    let body = app.graphql(&query).await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.graphql.introspection = false).await;
    let body = app.graphql("{ __schema { queryType { name } } }").await;
    assert!(
        body.get("errors").is_some() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    let on = TestApp::spawn().await;
    let body = on.graphql("{ __schema { queryType { name } } }").await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"],
        json!("Query")
    );
}
