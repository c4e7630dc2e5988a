//! No foreign row, through any path: tenant, tenants, node, nodes, nested partner{tenants},
//! and under concurrency.

use std::collections::HashSet;
use std::time::Duration;

use platform_api::auth::dev_issuer::DevTokenRequest;
use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::Value;

use crate::support::app::first_error_code;
use crate::support::{TestApp, seed};

fn token(app: &TestApp, sub: &str) -> String {
    let request = DevTokenRequest {
        sub: sub.into(),
        aud: "dezky-portal".into(),
        email: None,
        name: None,
        groups: None,
    };
    app.token_with(&request, Duration::from_secs(600))
}

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

struct World {
    app: TestApp,
    a: uuid::Uuid,
    b: uuid::Uuid,
    p1: uuid::Uuid,
}

/// Tenant A (direct), tenant B and C under partner P1, tenant D under partner P2.
/// alice: member of A. bob: member of B. carol: staff of P1.
async fn world() -> World {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p1 = seed::partner(&mut conn, "partner-one").await;
    let p2 = seed::partner(&mut conn, "partner-two").await;
    let a = seed::tenant(&mut conn, "tenant-a", None).await;
    let b = seed::tenant(&mut conn, "tenant-b", Some(p1)).await;
    seed::tenant(&mut conn, "tenant-c", Some(p1)).await;
    seed::tenant(&mut conn, "tenant-d", Some(p2)).await;
    let alice = seed::user(&mut conn, "alice", false).await;
    let bob = seed::user(&mut conn, "bob", false).await;
    let carol = seed::user(&mut conn, "carol", false).await;
    seed::membership(&mut conn, alice, a, "owner", "active").await;
    seed::membership(&mut conn, bob, b, "member", "active").await;
    seed::staff(&mut conn, carol, p1, "admin").await;
    World { app, a, b, p1 }
}

const LIST: &str =
    "{ tenants(first: 100) { totalCount edges { node { slug partner { slug } } } } }";

#[tokio::test]
async fn lists_show_only_what_each_caller_may_see() {
    let w = world().await;
    let seen = |sub: &'static str| {
        let app = &w.app;
        async move {
            let body = app.graphql_as(&token(app, sub), LIST).await;
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
    assert_eq!(seen("alice").await, (set(&["tenant-a"]), 1));
    assert_eq!(seen("bob").await, (set(&["tenant-b"]), 1));
    assert_eq!(seen("carol").await, (set(&["tenant-b", "tenant-c"]), 2));
    assert_eq!(seen("stranger").await, (set(&[]), 0));
    // A partner filter naming someone else's partner yields nothing.
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "alice"),
            r#"{ tenants(filter: { partner: "partner-one" }) { totalCount } }"#,
        )
        .await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0);
    // Partners: staff see their own only; members see the partner of their tenant (who it
    // is, not its business), alice (a direct customer) none.
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "carol"),
            "{ partners { edges { node { slug } } } }",
        )
        .await;
    assert_eq!(
        body["data"]["partners"]["edges"].as_array().unwrap().len(),
        1
    );
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            "{ partners { totalCount nodes { slug } } }",
        )
        .await;
    assert_eq!(body["data"]["partners"]["totalCount"], 1, "{body}");
    assert_eq!(body["data"]["partners"]["nodes"][0]["slug"], "partner-one");
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            r#"{ partner(slug: "partner-one") { slug customerCount } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    let body = w
        .app
        .graphql_as(&token(&w.app, "alice"), "{ partners { totalCount } }")
        .await;
    assert_eq!(body["data"]["partners"]["totalCount"], 0);
}

#[tokio::test]
async fn nested_paths_leak_nothing() {
    let w = world().await;
    // bob sees tenant B and its partner's name, but not the partner's other customers.
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            r#"{ tenant(slug: "tenant-b") { slug partner { slug name } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"]["partner"]["slug"], "partner-one",
        "{body}"
    );
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            r#"{ tenant(slug: "tenant-b") { partner { tenants { edges { node { slug } } } } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");
    let mut slugs = HashSet::new();
    slugs_in(&body["data"], &mut slugs);
    assert!(!slugs.contains("tenant-c"), "{body}");
    // ...nor its commercial details, nor the tenant's billing (bob is a plain member).
    for field in [
        "marginPct",
        "customerCount",
        "mrr { amountMinor }",
        "contactInfo",
    ] {
        let body = w
            .app
            .graphql_as(
                &token(&w.app, "bob"),
                &format!(r#"{{ tenant(slug: "tenant-b") {{ partner {{ {field} }} }} }}"#),
            )
            .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{field}");
    }
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            r#"{ tenant(slug: "tenant-b") { subscription { plan } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");
    // carol (staff of partner-one) sees the partner's tenants through the nested path.
    let body = w.app.graphql_as(&token(&w.app, "carol"), r#"{ partner(slug: "partner-one") { slug customerCount tenants { edges { node { slug } } } } }"#).await;
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
    let id = |ty, uuid| GlobalId::new(ty, uuid).encode();
    let alice = token(&w.app, "alice");
    let q = format!(
        r#"{{ nodes(ids: ["{}", "{}", "{}"]) {{ id ... on Tenant {{ slug }} ... on Partner {{ slug }} }} }}"#,
        id(NodeType::Tenant, w.a),
        id(NodeType::Tenant, w.b),
        id(NodeType::Partner, w.p1)
    );
    let body = w.app.graphql_as(&alice, &q).await;
    let nodes = body["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["slug"], "tenant-a");
    assert!(nodes[1].is_null() && nodes[2].is_null(), "{body}");
    // Members of a foreign tenant are invisible through node(id:) too.
    let members = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            r#"{ tenant(slug: "tenant-b") { members { edges { node { id } } } } }"#,
        )
        .await;
    let member_id = members["data"]["tenant"]["members"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = w
        .app
        .graphql_as(
            &alice,
            &format!(r#"{{ node(id: "{member_id}") {{ id }} }}"#),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
    let body = w
        .app
        .graphql_as(
            &token(&w.app, "bob"),
            &format!(
                r#"{{ node(id: "{member_id}") {{ ... on Member {{ role user {{ email }} }} }} }}"#
            ),
        )
        .await;
    assert_eq!(body["data"]["node"]["role"], "MEMBER", "{body}");
}

#[tokio::test]
async fn concurrent_requests_from_two_tenants_never_cross() {
    let w = world().await;
    let (alice, bob) = (token(&w.app, "alice"), token(&w.app, "bob"));
    let query = format!(
        r#"{{ tenants {{ edges {{ node {{ slug members {{ edges {{ node {{ user {{ email }} }} }} }} }} }} }}
            nodes(ids: ["{}", "{}"]) {{ ... on Tenant {{ slug }} }} }}"#,
        GlobalId::new(NodeType::Tenant, w.a).encode(),
        GlobalId::new(NodeType::Tenant, w.b).encode()
    );
    let requests = (0..40).map(|i| {
        let (t, own) = if i % 2 == 0 {
            (alice.clone(), "tenant-a")
        } else {
            (bob.clone(), "tenant-b")
        };
        let app = &w.app;
        let query = query.clone();
        async move {
            let body = app.graphql_as(&t, &query).await;
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
