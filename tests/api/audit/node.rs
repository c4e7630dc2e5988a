//! Audit events are nodes, reachable through `node(id:)` within the same scope as
//! `auditEvents`.

use serde_json::json;

use super::world;
use crate::support::app::first_error_code;

#[tokio::test]
async fn audit_events_resolve_by_id_within_the_callers_scope() {
    let w = world().await;
    // alice (admin of acme) lists her tenant's events and takes one id.
    let body = w
        .app
        .graphql_as_with(
            &w.token("alice"),
            "query { auditEvents(first: 1) { edges { node { id requestId tenantSlug } } } }",
            json!({}),
        )
        .await;
    let node = &body["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(node["tenantSlug"], "acme", "{body}");
    let id = node["id"].as_str().unwrap().to_owned();
    let by_id =
        format!(r#"{{ node(id: "{id}") {{ id ... on AuditEvent {{ requestId tenantSlug }} }} }}"#);

    let mine = w.app.graphql_as(&w.token("alice"), &by_id).await;
    assert_eq!(mine["data"]["node"]["id"], id.as_str());
    assert_eq!(mine["data"]["node"]["requestId"], node["requestId"]);
    let root = w.app.graphql_as(&w.token("root"), &by_id).await;
    assert_eq!(
        root["data"]["node"]["id"],
        id.as_str(),
        "operators see every event"
    );
    for outsider in ["mallory", "stranger"] {
        let body = w.app.graphql_as(&w.token(outsider), &by_id).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{outsider}");
    }
    // An id that names no event answers the same way.
    let missing = platform_api::graphql::ids::GlobalId::serial(
        platform_api::graphql::ids::NodeType::AuditEvent,
        999_999,
    )
    .encode();
    let body = w
        .app
        .graphql_as(
            &w.token("root"),
            &format!(r#"{{ node(id: "{missing}") {{ id }} }}"#),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}
