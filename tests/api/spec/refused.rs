//! A request refused before execution (it does not parse, does not validate, or names no
//! operation) has `errors` and **no** `data` key (§7.1.2); with
//! `application/graphql-response+json` it is a 400, with `application/json` a 200.

use serde_json::json;

use super::{post_raw, world};

const MODERN: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_parse_error_has_no_data_key_in_either_media_type() {
    let w = world().await;
    let body = json!({ "query": "{ apiVersion" });
    let expected = r#"{"errors":[{"message":" --> 1:13\n  |\n1 | { apiVersion\n  |             ^---\n  |\n  = expected selection_set, selection, directive, or arguments","locations":[{"line":1,"column":13}],"extensions":{"code":"BAD_USER_INPUT"}}]}"#;
    let (status, text) = post_raw(&w.app, None, &body, MODERN).await;
    assert_eq!((status, text.as_str()), (400, expected));
    let (status, text) = post_raw(&w.app, None, &body, "application/json").await;
    assert_eq!((status, text.as_str()), (200, expected));
}

#[tokio::test]
async fn a_validation_error_has_no_data_key() {
    let w = world().await;
    let body = json!({ "query": "{ apiVersion nope }" });
    let (status, text) = post_raw(&w.app, None, &body, MODERN).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        text,
        r#"{"errors":[{"message":"Unknown field \"nope\" on type \"Query\". Did you mean \"node\"?","locations":[{"line":1,"column":14}],"extensions":{"code":"BAD_USER_INPUT"}}]}"#
    );
}

#[tokio::test]
async fn an_unknown_operation_name_has_no_data_key() {
    let w = world().await;
    let body = json!({ "query": "query A { apiVersion }", "operationName": "B" });
    let (status, text) = post_raw(&w.app, None, &body, MODERN).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.starts_with(r#"{"errors":[{"message":"#), "{text}");
    assert!(!text.contains(r#""data""#), "{text}");
}

#[tokio::test]
async fn once_execution_started_data_is_present_even_when_null() {
    let w = world().await;
    let body = json!({ "query": r#"{ partners(first: 101) { totalCount } }"# });
    let (status, text) = post_raw(&w.app, Some(&w.root), &body, MODERN).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with(r#""data":null}"#), "{text}");
}
