//! Finding 6: a body that is not a GraphQL request object (or an array of them) is refused
//! with 400 before anything runs; serde used to read `[["{ apiVersion }"]]` as a batch.

use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn arrays_of_arrays_and_bare_strings_are_not_requests() {
    let app = TestApp::spawn().await;
    let before = app.operations();
    for raw in [
        r#"[["{ apiVersion }"]]"#,
        r#"["{ apiVersion }"]"#,
        r#""{ apiVersion }""#,
        r#"[{"query":"{ apiVersion }"}, ["{ apiVersion }"]]"#,
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{raw}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(body.get("data").is_none(), "{body}");
    }
    assert_eq!(app.operations(), before, "nothing executed");
}
