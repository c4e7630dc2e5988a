//! No foreign row, through any path: tenant, tenants, node, nodes, nested partner{tenants},
//! and under concurrency.

use std::collections::HashSet;

use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::{Level, Role, Tenant, Token, World};

/// Every tenant slug anywhere in a response.
fn slugs_in(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "slug"
                    && let Some(s) = v.as_str()
                {
                    out.insert(s.to_owned());
                }
                slugs_in(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| slugs_in(v, out)),
        _ => {}
    }
}

/// Tenant A (direct), tenant B and C under partner P1, tenant D under partner P2.
/// alice: owner of A. bob: member of B. carol: staff (admin) of P1.
async fn world() -> World {
    World::new()
        .partner("partner-one")
        .partner("partner-two")
        .tenant("tenant-a")
        .tenant(Tenant::of("tenant-b", "partner-one"))
        .tenant(Tenant::of("tenant-c", "partner-one"))
        .tenant(Tenant::of("tenant-d", "partner-two"))
        .member("alice", "tenant-a", Role::Owner)
        .member("bob", "tenant-b", Role::Member)
        .staff("carol", "partner-one", Level::Admin)
        .spawn()
        .await
}

const LIST: &str =
    "{ tenants(first: 100) { totalCount edges { node { slug partner { slug } } } } }";

#[tokio::test]
async fn lists_show_only_what_each_caller_may_see() {
    let w = world().await;
    let seen = |token: String| {
        let w = &w;
        async move {
            let body = w.graphql_as(&token, LIST).await;
            assert!(body.get("errors").is_none(), "{body}");
            let mut slugs = HashSet::new();
            for edge in body["data"]["tenants"]["edges"].as_array().unwrap() {
                slugs.insert(edge["node"]["slug"].as_str().unwrap().to_owned());
            }
            (
                slugs,
                body["data"]["tenants"]["totalCount"].as_i64().unwrap(),
            )
        }
    };
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(seen(w.token("alice")).await, (set(&["tenant-a"]), 1));
    assert_eq!(seen(w.token("bob")).await, (set(&["tenant-b"]), 1));
    assert_eq!(
        seen(w.token("carol")).await,
        (set(&["tenant-b", "tenant-c"]), 2)
    );
    let stranger = Token::portal("stranger").sign(&w);
    assert_eq!(seen(stranger).await, (set(&[]), 0));
    // A partner filter naming someone else's partner yields nothing.
    let body = w
        .query(
            "alice",
            r#"{ tenants(filter: { partner: "partner-one" }) { totalCount } }"#,
        )
        .await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0);
    // Partners: staff see their own only; members see the partner of their tenant (who it
    // is, not its business), alice (a direct customer) none.
    let body = w
        .query("carol", "{ partners { edges { node { slug } } } }")
        .await;
    assert_eq!(
        body["data"]["partners"]["edges"].as_array().unwrap().len(),
        1
    );
    let body = w
        .query("bob", "{ partners { totalCount nodes { slug } } }")
        .await;
    assert_eq!(body["data"]["partners"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["partners"]["nodes"][0]["slug"], "partner-one");
    let body = w
        .query(
            "bob",
            r#"{ partner(slug: "partner-one") { slug customerCount } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    let body = w.query("alice", "{ partners { totalCount } }").await;
    assert_eq!(body["data"]["partners"]["totalCount"], 0);
}

/// One field of tenant B's partner, as bob.
const PARTNER_FIELD_OF_B: [(&str, &str); 4] = [
    (
        "marginPct",
        r#"{ tenant(slug: "tenant-b") { partner { marginPct } } }"#,
    ),
    (
        "customerCount",
        r#"{ tenant(slug: "tenant-b") { partner { customerCount } } }"#,
    ),
    (
        "mrr",
        r#"{ tenant(slug: "tenant-b") { partner { mrr { amountMinor } } } }"#,
    ),
    (
        "contactInfo",
        r#"{ tenant(slug: "tenant-b") { partner { contactInfo } } }"#,
    ),
];

#[tokio::test]
async fn nested_paths_leak_nothing() {
    let w = world().await;
    // bob sees tenant B and its partner's name, but not the partner's other customers.
    let body = w
        .query(
            "bob",
            r#"{ tenant(slug: "tenant-b") { slug partner { slug name } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"]["partner"]["slug"], "partner-one",
        "{body}"
    );
    let body = w
        .query(
            "bob",
            r#"{ tenant(slug: "tenant-b") { partner { tenants { edges { node { slug } } } } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");
    let mut slugs = HashSet::new();
    slugs_in(&body["data"], &mut slugs);
    assert!(!slugs.contains("tenant-c"), "{body}");
    // ...nor its commercial details, nor the tenant's billing (bob is a plain member).
    for (field, query) in PARTNER_FIELD_OF_B {
        let body = w.query("bob", query).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{field}");
    }
    let body = w
        .query(
            "bob",
            r#"{ tenant(slug: "tenant-b") { subscription { plan { key } } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");
    // carol (staff of partner-one) sees the partner's tenants through the nested path.
    let body = w
        .query(
            "carol",
            r#"{
              partner(slug: "partner-one") {
                slug customerCount tenants { edges { node { slug } } }
              }
            }"#,
        )
        .await;
    let mut slugs = HashSet::new();
    slugs_in(&body["data"], &mut slugs);
    assert_eq!(
        slugs,
        ["partner-one", "tenant-b", "tenant-c"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(body["data"]["partner"]["customerCount"], 2);
}

#[tokio::test]
async fn node_and_nodes_apply_the_same_scope() {
    let w = world().await;
    let id = |ty, name| GlobalId::new(ty, w.id(name)).encode();
    let body = w
        .query_with(
            "alice",
            r#"query($ids: [ID!]!) {
              nodes(ids: $ids) { id ... on Tenant { slug } ... on Partner { slug } }
            }"#,
            json!({ "ids": [
                id(NodeType::Tenant, "tenant-a"),
                id(NodeType::Tenant, "tenant-b"),
                id(NodeType::Partner, "partner-one"),
            ] }),
        )
        .await;
    let nodes = body["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["slug"], "tenant-a");
    assert!(nodes[1].is_null() && nodes[2].is_null(), "{body}");
    // Members of a foreign tenant are invisible through node(id:) too.
    let members = w
        .query(
            "bob",
            r#"{ tenant(slug: "tenant-b") { members { edges { node { id } } } } }"#,
        )
        .await;
    let member_id = &members["data"]["tenant"]["members"]["edges"][0]["node"]["id"];
    assert!(member_id.is_string(), "{members}");
    let body = w
        .query_with(
            "alice",
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": member_id }),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
    let body = w
        .query_with(
            "bob",
            "query($id: ID!) { node(id: $id) { ... on Member { role user { email } } } }",
            json!({ "id": member_id }),
        )
        .await;
    assert_eq!(body["data"]["node"]["role"], "MEMBER", "{body}");
}

#[tokio::test]
async fn concurrent_requests_from_two_tenants_never_cross() {
    let w = world().await;
    let (alice, bob) = (w.token("alice"), w.token("bob"));
    const QUERY: &str = r#"
    query($ids: [ID!]!) {
      tenants { edges { node { slug members { edges { node { user { email } } } } } } }
      nodes(ids: $ids) { ... on Tenant { slug } }
    }"#;
    let variables = json!({ "ids": [
        GlobalId::new(NodeType::Tenant, w.id("tenant-a")).encode(),
        GlobalId::new(NodeType::Tenant, w.id("tenant-b")).encode(),
    ] });
    let requests = (0..40).map(|i| {
        let (t, own) = if i % 2 == 0 {
            (alice.clone(), "tenant-a")
        } else {
            (bob.clone(), "tenant-b")
        };
        let (w, variables) = (&w, variables.clone());
        async move {
            let body = w.graphql_as_with(&t, QUERY, variables).await;
            assert!(body.get("errors").is_none(), "{body}");
            let mut slugs = HashSet::new();
            slugs_in(&body["data"], &mut slugs);
            (own, slugs)
        }
    });
    for (own, slugs) in futures_util::future::join_all(requests).await {
        assert_eq!(
            slugs,
            HashSet::from([own.to_owned()]),
            "only {own} may appear"
        );
    }
}
