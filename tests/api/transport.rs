//! HTTP transport rules of `/graphql`.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::app::first_error_code;

#[tokio::test]
async fn post_json_answers_data() {
    let app = TestApp::spawn().await;
    let body = app.graphql("{ apiVersion }").await;
    assert_eq!(body["data"]["apiVersion"], env!("CARGO_PKG_VERSION"));
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn graphql_response_json_is_negotiated() {
    let app = TestApp::spawn().await;
    let send = |query: &str| {
        app.client
            .post(app.url("/graphql"))
            .header(
                ACCEPT,
                "application/graphql-response+json, application/json;q=0.9",
            )
            .json(&json!({ "query": query }))
            .send()
    };
    let ok = send("{ apiVersion }").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()[CONTENT_TYPE],
        "application/graphql-response+json"
    );
    // A request that never executes is a 4xx under the new media type...
    let bad = send("{ apiVersion").await.unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    // ...and a 200 under application/json.
    let legacy = app.post(&json!({ "query": "{ apiVersion" })).await;
    assert_eq!(legacy.status(), 200);
    assert_eq!(legacy.headers()[CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn get_runs_queries() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql?query=%7BapiVersion%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["apiVersion"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn get_refuses_mutations_with_405_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let (ops, statements) = (app.operations(), app.statements());
    for query in [
        "mutation%7Bx%7D",
        "query%20Q%7BapiVersion%7D%20mutation%20M%7Bx%7D&operationName=M",
        "subscription%7Bx%7D",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/graphql?query={query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{query}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    }
    assert_eq!(app.operations(), ops, "nothing reached the executor");
    assert_eq!(app.statements(), statements, "no SQL was sent");
}

#[tokio::test]
async fn get_without_a_query_is_400_for_non_browsers() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn csrf_simple_content_types_need_a_preflight_header() {
    let app = TestApp::spawn().await;
    let ops = app.operations();
    let body = json!({ "query": "{ apiVersion }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app.client.post(app.url("/graphql")).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{content_type:?}");
        let json: Value = response.json().await.unwrap();
        assert!(
            json["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("cross-site"),
            "{json}"
        );
    }
    // An empty header does not count.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "text/plain")
        .header("apollo-require-preflight", "")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.operations(), ops, "refused requests ran nothing");
    // With a preflight header the same request runs.
    for header in ["apollo-require-preflight", "x-apollo-operation-name"] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header(CONTENT_TYPE, "text/plain")
            .header(header, "1")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{header}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["data"]["apiVersion"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn other_media_types_are_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/xml")
        .body("<q/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_run_nothing() {
    let app = TestApp::spawn().await;
    let ops = app.operations();
    let padding = " ".repeat(2 * 1024 * 1024);
    let body = format!(r#"{{"query":"{{ apiVersion }}{padding}"}}"#);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Streamed without a Content-Length, too.
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(app.operations(), ops);
}

#[tokio::test]
async fn batches_are_capped_before_anything_runs() {
    let app = TestApp::spawn().await;
    let op = json!({ "query": "{ schemaVersion }" });
    let (ops, statements) = (app.operations(), app.statements());
    let response = app.post(&Value::Array(vec![op.clone(); 11])).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert_eq!(app.post(&json!([])).await.status(), 400, "empty batch");
    assert_eq!(
        (app.operations(), app.statements()),
        (ops, statements),
        "nothing ran"
    );
    let response = app.post(&Value::Array(vec![op; 10])).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let answers = body.as_array().expect("a batch answers with an array");
    assert_eq!(answers.len(), 10);
    assert!(
        answers
            .iter()
            .all(|a| a["data"]["schemaVersion"].is_string()),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_replaced_otherwise() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-abc.123");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id {}")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "bad id {}");
    assert_eq!(id.len(), 36, "a generated UUID");
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
}
