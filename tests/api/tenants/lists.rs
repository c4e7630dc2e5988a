//! Lists, nesting, pagination and statement counts.

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::{Tenant, TestApp, World};

/// An operator `root` and the [`bulk`](crate::support::world::Arrange::bulk) volume; returns
/// the world and root's token.
async fn operator_with(partners: i32, tenants_each: i32, members_each: i32) -> (World, String) {
    let w = World::new()
        .operator("root")
        .bulk(partners, tenants_each, members_each)
        .spawn()
        .await;
    let token = w.token("root");
    (w, token)
}

const DEEP: &str = r#"
{
  partners(first: 50) {
    edges { node {
      slug customerCount
      tenants(first: 10) { edges { node {
        slug
        members(first: 10) { edges { node { user { email } } } }
      } } }
    } }
  }
}"#;

/// Statements sent by one request.
async fn statements_for(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
    statements_with(app, token, query, json!({})).await
}

/// Statements sent by one request with variables.
async fn statements_with(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
) -> (u64, Value) {
    let before = app.statements();
    let body = app.graphql_as_with(token, query, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    (app.statements() - before, body)
}

#[tokio::test]
async fn nested_lists_cost_the_same_for_5_and_50_partners() {
    let mut counts = vec![];
    for partners in [5, 50] {
        let (app, token) = operator_with(partners, 3, 2).await;
        let (statements, body) = statements_for(&app, &token, DEEP).await;
        let edges = body["data"]["partners"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), partners as usize);
        let first = &edges[0]["node"];
        assert_eq!(first["customerCount"], 3);
        assert_eq!(first["tenants"]["edges"].as_array().unwrap().len(), 3);
        let members = &first["tenants"]["edges"][0]["node"]["members"]["edges"];
        assert_eq!(members.as_array().unwrap().len(), 2);
        assert!(
            members[0]["node"]["user"]["email"]
                .as_str()
                .unwrap()
                .ends_with("@example.com")
        );
        counts.push(statements);
    }
    assert_eq!(
        counts[0], counts[1],
        "statement count independent of the number of partners"
    );
    assert!(counts[0] <= 5, "{} statements", counts[0]);
}

#[tokio::test]
async fn a_page_of_tenants_with_their_partner_is_three_statements() {
    let (app, token) = operator_with(40, 3, 0).await;
    let (statements, body) = statements_for(
        &app,
        &token,
        "{ tenants(first: 100) { edges { node { slug partner { name } } } } }",
    )
    .await;
    let edges = body["data"]["tenants"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 100);
    assert_eq!(edges[0]["node"]["partner"]["name"], "Partner 0");
    assert!(statements <= 3, "{statements} statements");
    // totalCount costs one more statement, only when selected.
    let (with_total, body) = statements_for(
        &app,
        &token,
        "{ tenants(first: 100) { totalCount edges { node { slug partner { name } } } } }",
    )
    .await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 120);
    assert_eq!(with_total, statements + 1);
}

/// A page of tenants in either direction.
const PAGE: &str = r#"
query($first: Int, $after: String, $last: Int, $before: String, $filter: TenantFilterInput) {
  tenants(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

#[tokio::test]
async fn pages_walk_forward_and_backward_without_gaps() {
    let (app, token) = operator_with(1, 7, 0).await;
    let page = |variables: Value| {
        let (app, token) = (&app, &token);
        async move { app.graphql_as_with(token, PAGE, variables).await["data"]["tenants"].clone() }
    };
    let slugs = |conn: &Value| {
        conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let mut seen = vec![];
    let mut variables = json!({ "first": 3 });
    loop {
        let conn = page(variables).await;
        seen.extend(slugs(&conn));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        variables = json!({ "first": 3, "after": conn["pageInfo"]["endCursor"] });
    }
    let expected: Vec<String> = (0..7).map(|t| format!("p-000-t-0{t}")).collect();
    assert_eq!(seen, expected);
    // Backward from the end.
    let last = page(json!({ "last": 3 })).await;
    assert_eq!(slugs(&last), expected[4..].to_vec());
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = page(json!({ "last": 3, "before": last["pageInfo"]["startCursor"] })).await;
    assert_eq!(slugs(&before), expected[1..4].to_vec());
}

#[tokio::test]
async fn page_arguments_are_validated() {
    let w = World::new().operator("root").spawn().await;
    let cases = [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "garbage" }), "after"),
        (
            json!({ "filter": { "search": "x".repeat(201) } }),
            "filter.search",
        ),
    ];
    for (variables, field) in cases {
        let body = w.query_with("root", PAGE, variables.clone()).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{variables}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            json!(field),
            "{variables}"
        );
    }
}

#[tokio::test]
async fn filters_narrow_the_lists() {
    let w = World::new()
        .operator("root")
        .bulk(2, 2, 0)
        .tenant(Tenant::new("direct-pending"))
        .spawn()
        .await;
    let (app, token) = (&w.app, w.token("root"));
    let slugs = |body: &Value| {
        body["data"]["tenants"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let filtered = |filter: Value| {
        let (app, token) = (app, &token);
        async move {
            let body = app
                .graphql_as_with(token, PAGE, json!({ "filter": filter }))
                .await;
            slugs(&body)
        }
    };
    assert_eq!(
        filtered(json!({ "partner": "p-001" })).await,
        vec!["p-001-t-00", "p-001-t-01"]
    );
    assert_eq!(
        filtered(json!({ "status": "PENDING" })).await,
        vec!["direct-pending"]
    );
    assert_eq!(
        filtered(json!({ "search": "T-01" })).await,
        vec!["p-000-t-01", "p-001-t-01"]
    );
    assert_eq!(
        filtered(json!({ "search": "%" })).await,
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    let body = app
        .graphql_as(
            &token,
            r#"{
              partners(filter: { search: "partner 1" }) {
                totalCount edges { node { slug mrr { amountMinor currency } } }
              }
            }"#,
        )
        .await;
    assert_eq!(body["data"]["partners"]["totalCount"], 1);
    assert_eq!(
        body["data"]["partners"]["edges"][0]["node"]["mrr"],
        json!([{ "amountMinor": 2000, "currency": "EUR" }])
    );
}

#[tokio::test]
async fn nodes_fetch_each_type_in_one_statement() {
    use platform_api::graphql::ids::{GlobalId, NodeType};
    let (app, token) = operator_with(3, 10, 0).await;
    let ids: Vec<String> = {
        let body = app
            .graphql_as(
                &token,
                "{ tenants(first: 30) { edges { node { id } } } partners { edges { node { id } } } }",
            )
            .await;
        let mut ids: Vec<String> = body["data"]["tenants"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        ids.extend(
            body["data"]["partners"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        ids.push(GlobalId::new(NodeType::Tenant, uuid::Uuid::new_v4()).encode());
        ids
    };
    let (statements, body) = statements_with(
        &app,
        &token,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        json!({ "ids": ids }),
    )
    .await;
    let nodes = body["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 34);
    assert!(nodes[33].is_null(), "an unknown id gives null");
    assert_eq!(nodes[0]["id"], ids[0].as_str());
    // The Viewer, one statement for the 31 tenant ids, one for the 3 partner ids.
    assert_eq!(statements, 3);
}
