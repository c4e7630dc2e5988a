//! Finding 5: the SQL a request costs is bounded by its complexity. `me` applies the groups
//! claim once per operation whatever the aliases, and `totalCount` (a count statement per
//! selection) costs 10 towards the complexity limit. `extensions.cost` shows the requested
//! cost, the limit and the SQL actually sent, to operators who ask with
//! `extensions.cost = true` (in development, to anyone who asks).

use crate::support::World;
use crate::support::app::first_error_code;

fn aliases(n: usize, field: &str) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn aliases_of_me_sync_the_groups_claim_once() {
    let w = World::new().user("bob").spawn().await;
    let token = w.who("bob").groups(&["dezky-platform-admins"]).sign(&w);
    // Warm up: the first `me` creates the user's admin flag (and audits it).
    let body = w.graphql_as(&token, "{ me { platformAdmin } }").await;
    assert_eq!(body["data"]["me"]["platformAdmin"], true, "{body}");
    let before = w.statements();
    let body = w.graphql_as(&token, "{ me { platformAdmin } }").await;
    assert!(body.get("errors").is_none(), "{body}");
    let one = w.statements() - before;
    let before = w.statements();
    let body = w
        .graphql_as(&token, &aliases(150, "me { platformAdmin }"))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["a149"]["platformAdmin"], true);
    assert_eq!(
        w.statements() - before,
        one,
        "150 aliases cost what one does"
    );
    // `me` weighs 5 (+1 per selected field): 200 aliases are over the limit of 1000.
    let body = w
        .graphql_as(&token, &aliases(200, "me { platformAdmin }"))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn counted_fields_cost_more() {
    let w = World::new().operator("root").spawn().await;
    let before = w.statements();
    let body = w
        .query("root", &aliases(300, "tenants(first: 1) { totalCount }"))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );
    assert_eq!(w.statements(), before, "refused before any SQL");
    // 90 × (1 + 10) = 990 fits.
    let body = w
        .query("root", &aliases(90, "tenants(first: 1) { totalCount }"))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// `extensions.cost` of a response (`Null` when absent).
fn cost(body: &serde_json::Value) -> &serde_json::Value {
    &body["extensions"]["cost"]
}

/// Runs `query` as `token` (anonymous when `None`), asking for the cost.
async fn asking(w: &World, token: Option<&str>, query: &str) -> serde_json::Value {
    let mut r = w.client.post(w.url("/graphql"));
    if let Some(token) = token {
        r = r.bearer_auth(token);
    }
    let body = serde_json::json!({ "query": query, "extensions": { "cost": true } });
    r.json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn operators_who_ask_see_the_requested_and_actual_cost() {
    let w = World::new().operator("root").spawn().await;
    let root = w.token("root");
    let warm = w.query("root", "{ me { user { email } } }").await;
    assert!(warm.get("errors").is_none(), "{warm}");
    assert!(cost(&warm).is_null(), "not unless asked: {warm}");
    let plain = asking(
        &w,
        Some(&root),
        "{ tenants(first: 1) { edges { cursor } } }",
    )
    .await;
    let before = w.statements();
    let counted = asking(
        &w,
        Some(&root),
        "{ tenants(first: 1) { edges { cursor } totalCount } }",
    )
    .await;
    let sent = w.statements() - before;
    assert!(counted.get("errors").is_none(), "{counted}");
    assert_eq!(cost(&counted)["limit"], 1000, "{counted}");
    assert_eq!(
        cost(&counted)["requested"].as_u64().unwrap(),
        cost(&plain)["requested"].as_u64().unwrap() + 10,
        "totalCount weighs 10: {plain} {counted}"
    );
    assert_eq!(
        cost(&counted)["actual"].as_u64().unwrap(),
        sent,
        "actual is the SQL the operation sent"
    );
    assert!(sent > 0);
    // A batch reports each operation on its own.
    let batch: serde_json::Value = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(&root)
        .json(&serde_json::json!([
            { "query": "{ apiVersion }", "extensions": { "cost": true } },
            { "query": "{ tenants(first: 1) { totalCount } }", "extensions": { "cost": true } }
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cost(&batch[0])["actual"], 0, "{batch}");
    assert!(cost(&batch[1])["actual"].as_u64().unwrap() > 0, "{batch}");
    // A refused operation never ran: no cost.
    let refused = asking(
        &w,
        Some(&root),
        &aliases(300, "tenants(first: 1) { totalCount }"),
    )
    .await;
    assert_eq!(first_error_code(&refused), "BAD_USER_INPUT");
    assert!(cost(&refused).is_null(), "{refused}");
}

#[tokio::test]
async fn in_development_anyone_who_asks_sees_the_cost() {
    let w = World::new().user("bob").spawn().await;
    let body = asking(&w, Some(&w.token("bob")), "{ apiVersion }").await;
    assert_eq!(cost(&body)["requested"], 1, "{body}");
    let body = asking(&w, None, "{ apiVersion }").await;
    assert_eq!(cost(&body)["requested"], 1, "{body}");
    assert_eq!(cost(&body)["actual"], 0, "{body}");
}

#[tokio::test]
async fn outside_development_only_operator_tokens_see_the_cost() {
    let app = crate::support::TestApp::spawn_with(|c| {
        c.app_env = platform_api::config::AppEnv::Production;
    })
    .await;
    let w = World::new().operator("root").user("bob").build(app).await;
    let body = asking(&w, Some(&w.token("root")), "{ apiVersion }").await;
    assert_eq!(cost(&body)["requested"], 1, "{body}");
    let portal = asking(&w, Some(&w.token("bob")), "{ apiVersion }").await;
    assert!(portal.get("errors").is_none(), "{portal}");
    assert!(cost(&portal).is_null(), "{portal}");
    let anonymous = asking(&w, None, "{ apiVersion }").await;
    assert!(cost(&anonymous).is_null(), "{anonymous}");
}
