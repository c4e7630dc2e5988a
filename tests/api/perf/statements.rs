//! Acceptance 2: the benchmark's operations (bench/driver/src/graph.rs, Q1–Q4 and M1) cost a
//! fixed number of SQL statements, whatever the page holds. Benchmarks measure; these assert.

use serde_json::{Value, json};

use crate::support::World;
use crate::support::world::{Level, Role};

const Q1: &str = "query Q1($slug: String!) { tenant(slug: $slug) { name status } }";
const Q2: &str = "query Q2 { tenants(first: 20) { nodes { partner { name } \
                  members(first: 10) { nodes { user { email } } } } } }";
const Q3: &str = "query Q3 { partners(first: 50) { nodes { customerCount \
                  mrr { amountMinor currency } tenants(first: 10) { nodes { name } } } } }";
const Q4: &str = "query Q4($tenant: String!, $before: DateTime!) { \
                  auditEvents(filter: { tenant: $tenant, before: $before }, first: 50) { \
                  nodes { at action outcome actorEmail targetType targetId } } }";
const M1: &str = "mutation M1($tenant: String!, $name: String!) { \
                  updateTenant(input: { tenant: $tenant, name: $name }) { tenant { name } } }";

/// `partners` partners of `tenants_each` tenants of `members_each` members, with an operator
/// `root`, staff `sue` of the first partner and `owen`, owner of its first tenant.
async fn world(partners: i32, tenants_each: i32, members_each: i32) -> World {
    World::new()
        .operator("root")
        .bulk(partners, tenants_each, members_each)
        .staff("sue", "p-000", Level::Member)
        .member("owen", "p-000-t-00", Role::Owner)
        .spawn()
        .await
}

/// The statements of one operation as `who`, and its response (which must have no errors).
async fn cost(w: &World, who: &str, query: &str, variables: Value) -> (u64, Value) {
    let before = w.statements();
    let body = w.query_with(who, query, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    (w.statements() - before, body["data"].clone())
}

/// Every operation's statements in one world: (Q1, Q2, Q3, Q4, M1).
async fn costs(w: &World) -> [u64; 5] {
    let tenant = json!({ "slug": "p-000-t-00" });
    let (q1, data) = cost(w, "owen", Q1, tenant).await;
    assert_eq!(data["tenant"]["status"], "ACTIVE");
    let (q2, data) = cost(w, "sue", Q2, json!({})).await;
    let nodes = data["tenants"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(nodes.iter().all(|n| n["partner"]["name"] == "Partner 0"));
    let (q3, data) = cost(w, "root", Q3, json!({})).await;
    assert!(!data["partners"]["nodes"].as_array().unwrap().is_empty());
    let rename = json!({ "tenant": "p-000-t-00", "name": "Renamed" });
    let (m1, data) = cost(w, "owen", M1, rename).await;
    assert_eq!(data["updateTenant"]["tenant"]["name"], "Renamed");
    let audit = json!({ "tenant": "p-000-t-00", "before": "2100-01-01T00:00:00Z" });
    let (q4, data) = cost(w, "owen", Q4, audit).await;
    let events = data["auditEvents"]["nodes"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["action"] == "tenant.update"),
        "{events:?}"
    );
    [q1, q2, q3, q4, m1]
}

#[tokio::test]
async fn the_bench_operations_cost_fixed_statements_whatever_the_page_holds() {
    let small = costs(&world(2, 2, 1).await).await;
    let large = costs(&world(12, 15, 10).await).await;
    assert_eq!(
        small, large,
        "statements grow with the data: {small:?} → {large:?}"
    );
    // Q1 the Viewer and the tenant; Q2 the Viewer, the page of tenants joined with their
    // partners (4 before the join), their members with their users; Q3 the Viewer, the page of partners,
    // customer counts, MRR, their tenants; Q4 the Viewer and the page; M1 the Viewer,
    // then the write's transaction (BEGIN, lock, update, audit row, COMMIT).
    assert_eq!(
        large,
        [2, 3, 5, 2, 7],
        "statements of Q1, Q2, Q3, Q4, M1 as (small, large): {small:?}, {large:?}"
    );
}
