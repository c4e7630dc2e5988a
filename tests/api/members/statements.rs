//! Acceptance 5: the members page costs the same number of statements for 5 and for 50
//! members (steps included).

use serde_json::json;

use super::world;
use crate::provisioning::Stack;
use crate::support::World;

const PAGE: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    seatUsage { used included percent warning }
    members(first: 50) { nodes { user { email } role status steps { status } } }
  }
}"#;

/// Adds `n` members to `slug` by SQL, each with its three step rows.
async fn add_members(w: &World, slug: &str, n: usize) {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "WITH u AS (
             INSERT INTO users (authentik_subject, email)
             SELECT 'bulk-{slug}-' || g, 'bulk' || g || '@{slug}.example' FROM generate_series(1, {n}) g
             RETURNING id),
         m AS (
             INSERT INTO memberships (user_id, tenant_id, role, operation)
             SELECT id, '{}', 'member', 'create' FROM u RETURNING id)
         INSERT INTO member_steps (membership_id, step, status)
         SELECT m.id, s, 'ok' FROM m, unnest(ARRAY['authentik', 'stalwart', 'ocis']) s",
        w.id(slug)
    ))
    .execute(&mut conn)
    .await
    .unwrap();
}

async fn cost(w: &World) -> (u64, usize) {
    let before = w.statements();
    let body = w.query_with("root", PAGE, json!({ "slug": "acme" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = body["data"]["tenant"]["members"]["nodes"]
        .as_array()
        .unwrap();
    assert!(nodes.iter().all(|n| n["steps"].as_array().is_some()));
    (w.statements() - before, nodes.len())
}

#[tokio::test]
async fn the_members_page_costs_the_same_for_5_and_50_members() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    add_members(&w, "acme", 2).await;
    let (small, n) = cost(&w).await;
    assert_eq!(n, 5);
    add_members_more(&w).await;
    let (large, n) = cost(&w).await;
    assert_eq!(n, 50);
    assert_eq!(small, large, "statements do not grow with the page");
}

async fn add_members_more(w: &World) {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "WITH u AS (
             INSERT INTO users (authentik_subject, email)
             SELECT 'more-' || g, 'more' || g || '@acme.example' FROM generate_series(1, 45) g
             RETURNING id)
         INSERT INTO memberships (user_id, tenant_id, role) SELECT id, '{}', 'member' FROM u",
        w.id("acme")
    ))
    .execute(&mut conn)
    .await
    .unwrap();
}
