//! Audit events are nodes, reachable through `node(id:)` within the same scope as
//! `auditEvents`.

use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::json;

use super::world;
use crate::support::app::first_error_code;

/// An event by global id, with what only its readers see.
const BY_ID: &str = r#"
query($id: ID!) {
  node(id: $id) { id ... on AuditEvent { requestId tenantSlug } }
}"#;

#[tokio::test]
async fn audit_events_resolve_by_id_within_the_callers_scope() {
    let w = world().await;
    // alice (admin of acme) lists her tenant's events and takes one id.
    let body = w
        .query(
            "alice",
            "{ auditEvents(first: 1) { edges { node { id requestId tenantSlug } } } }",
        )
        .await;
    let node = &body["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(node["tenantSlug"], "acme", "{body}");
    let id = node["id"].as_str().unwrap().to_owned();
    let by_id = json!({ "id": id });

    let mine = w.query_with("alice", BY_ID, by_id.clone()).await;
    assert_eq!(mine["data"]["node"]["id"], id.as_str());
    assert_eq!(mine["data"]["node"]["requestId"], node["requestId"]);
    let root = w.query_with("root", BY_ID, by_id.clone()).await;
    assert_eq!(
        root["data"]["node"]["id"],
        id.as_str(),
        "operators see every event"
    );
    for outsider in ["mallory", "stranger"] {
        let body = w.query_with(outsider, BY_ID, by_id.clone()).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{outsider}");
    }
    // An id that names no event answers the same way.
    let missing = GlobalId::serial(NodeType::AuditEvent, 999_999).encode();
    let body = w.query_with("root", BY_ID, json!({ "id": missing })).await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}
