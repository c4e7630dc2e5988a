//! Lists, nesting, pagination and statement counts.

use std::time::Duration;

use platform_api::auth::dev_issuer::DevTokenRequest;
use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::{TestApp, seed};

async fn operator(app: &TestApp) -> String {
    let mut conn = app.db.connect().await;
    seed::user(&mut conn, "root", true).await;
    let request = DevTokenRequest {
        sub: "root".into(),
        aud: "dezky-operator".into(),
        email: None,
        name: None,
        groups: None,
    };
    app.token_with(&request, Duration::from_secs(600))
}

const DEEP: &str = "{ partners(first: 50) { edges { node { slug customerCount
    tenants(first: 10) { edges { node { slug members(first: 10) { edges { node { user { email } } } } } } } } } } }";

/// Statements sent by one request.
async fn statements_for(app: &TestApp, token: &str, query: &str) -> (u64, Value) {
    let before = app.statements();
    let body = app.graphql_as(token, query).await;
    assert!(body.get("errors").is_none(), "{body}");
    (app.statements() - before, body)
}

#[tokio::test]
async fn nested_lists_cost_the_same_for_5_and_50_partners() {
    let mut counts = vec![];
    for partners in [5, 50] {
        let app = TestApp::spawn().await;
        let token = operator(&app).await;
        seed::bulk(&mut app.db.connect().await, partners, 3, 2).await;
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
    let app = TestApp::spawn().await;
    let token = operator(&app).await;
    seed::bulk(&mut app.db.connect().await, 40, 3, 0).await;
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

#[tokio::test]
async fn pages_walk_forward_and_backward_without_gaps() {
    let app = TestApp::spawn().await;
    let token = operator(&app).await;
    seed::bulk(&mut app.db.connect().await, 1, 7, 0).await;
    let page = |args: String| {
        let q = format!(
            "{{ tenants({args}) {{ edges {{ cursor node {{ slug }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
        );
        let app = &app;
        let token = token.clone();
        async move { app.graphql_as(&token, &q).await["data"]["tenants"].clone() }
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
    let mut args = "first: 3".to_string();
    loop {
        let conn = page(args).await;
        seen.extend(slugs(&conn));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        args = format!("first: 3, after: {}", conn["pageInfo"]["endCursor"]);
    }
    let expected: Vec<String> = (0..7).map(|t| format!("p-000-t-0{t}")).collect();
    assert_eq!(seen, expected);
    // Backward from the end.
    let last = page("last: 3".into()).await;
    assert_eq!(slugs(&last), expected[4..].to_vec());
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = page(format!(
        "last: 3, before: {}",
        last["pageInfo"]["startCursor"]
    ))
    .await;
    assert_eq!(slugs(&before), expected[1..4].to_vec());
}

#[tokio::test]
async fn page_arguments_are_validated() {
    let app = TestApp::spawn().await;
    let token = operator(&app).await;
    let long_search = format!("filter: {{ search: \"{}\" }}", "x".repeat(201));
    let cases = [
        ("first: 101", "first"),
        ("first: -1", "first"),
        ("first: 1, last: 1", "last"),
        ("after: \"garbage\"", "after"),
        (long_search.as_str(), "filter.search"),
    ];
    for (args, field) in cases {
        let body = app
            .graphql_as(
                &token,
                &format!("{{ tenants({args}) {{ edges {{ cursor }} }} }}"),
            )
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{args}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            json!(field),
            "{args}"
        );
    }
}

#[tokio::test]
async fn filters_narrow_the_lists() {
    let app = TestApp::spawn().await;
    let token = operator(&app).await;
    let mut conn = app.db.connect().await;
    seed::bulk(&mut conn, 2, 2, 0).await;
    seed::tenant(&mut conn, "direct-pending", None).await;
    let slugs = |body: &Value| {
        body["data"]["tenants"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let q =
        |filter: &str| format!("{{ tenants(filter: {filter}) {{ edges {{ node {{ slug }} }} }} }}");
    assert_eq!(
        slugs(&app.graphql_as(&token, &q("{ partner: \"p-001\" }")).await),
        vec!["p-001-t-00", "p-001-t-01"]
    );
    assert_eq!(
        slugs(&app.graphql_as(&token, &q("{ status: PENDING }")).await),
        vec!["direct-pending"]
    );
    assert_eq!(
        slugs(&app.graphql_as(&token, &q("{ search: \"T-01\" }")).await),
        vec!["p-000-t-01", "p-001-t-01"]
    );
    assert_eq!(
        slugs(&app.graphql_as(&token, &q("{ search: \"%\" }")).await),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    let body = app.graphql_as(&token, "{ partners(filter: { search: \"partner 1\" }) { totalCount edges { node { slug mrr { amountMinor currency } } } } }").await;
    assert_eq!(body["data"]["partners"]["totalCount"], 1);
    assert_eq!(
        body["data"]["partners"]["edges"][0]["node"]["mrr"],
        json!([{ "amountMinor": 2000, "currency": "EUR" }])
    );
}

#[tokio::test]
async fn nodes_fetch_each_type_in_one_statement() {
    use platform_api::graphql::ids::{GlobalId, NodeType};
    let app = TestApp::spawn().await;
    let token = operator(&app).await;
    let mut conn = app.db.connect().await;
    seed::bulk(&mut conn, 3, 10, 0).await;
    let ids: Vec<String> = {
        let body = app.graphql_as(&token, "{ tenants(first: 30) { edges { node { id } } } partners { edges { node { id } } } }").await;
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
    let query = format!(
        "{{ nodes(ids: {}) {{ id }} }}",
        serde_json::to_string(&ids).unwrap()
    );
    let (statements, body) = statements_for(&app, &token, &query).await;
    let nodes = body["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 34);
    assert!(nodes[33].is_null(), "an unknown id gives null");
    assert_eq!(nodes[0]["id"], ids[0].as_str());
    // The Viewer, one statement for the 31 tenant ids, one for the 3 partner ids.
    assert_eq!(statements, 3);
}
