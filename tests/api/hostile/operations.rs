//! Finding 4: `operationName` must name one operation of the document; anything else is
//! the client's mistake (`BAD_USER_INPUT`, HTTP 400 under the GraphQL-over-HTTP media type),
//! not `INTERNAL`.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::app::first_error_code;

async fn post_modern(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_missing_or_unknown_operation_name_is_bad_user_input() {
    let app = TestApp::spawn().await;
    let two = "query A { apiVersion } query B { schemaVersion }";
    let cases = [
        json!({ "query": two }),
        json!({ "query": two, "operationName": "C" }),
        json!({ "query": "{ apiVersion }", "operationName": "A" }),
        json!({ "query": "mutation M { __typename } query Q { apiVersion }" }),
    ];
    let before = app.operations();
    for case in cases {
        let (status, body) = post_modern(&app, case.clone()).await;
        assert_eq!(status, 400, "{case}: {body}");
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{case}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "operationName");
        assert!(body["data"].is_null(), "{body}");
        // The legacy media type keeps 200, with the same error.
        let legacy = app.post(&case).await;
        assert_eq!(legacy.status(), 200);
        let legacy: Value = legacy.json().await.unwrap();
        assert_eq!(first_error_code(&legacy), "BAD_USER_INPUT", "{legacy}");
    }
    // A named one runs.
    let (status, body) = post_modern(&app, json!({ "query": two, "operationName": "B" })).await;
    assert_eq!(status, 200);
    assert!(body["data"]["schemaVersion"].is_string(), "{body}");
    assert!(app.operations() > before);
}

#[tokio::test]
async fn batched_operations_are_judged_one_by_one() {
    let app = TestApp::spawn().await;
    let response = app
        .post(&json!([
            { "query": "query A { apiVersion } query B { apiVersion }" },
            { "query": "{ apiVersion }" }
        ]))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body[1]["data"]["apiVersion"].is_string(), "{body}");
}
