//! Conformance with the GraphQL specification (October 2021) and GraphQL over HTTP, checked on
//! the **raw response bytes** of real HTTP requests, so key order counts:
//! - `order`: keys in selection-set order across merged roots, fragments and aliases (§7.1);
//! - `nulls`: a failed nullable field is `null` with one error per path; a failed non-null
//!   field makes its nearest nullable parent `null` (§6.4.4), through lists, fragments,
//!   aliases and batched loaders; lookups by key are nullable (`null` + `NOT_FOUND`);
//! - `inputs`: every invalid argument is one `BAD_USER_INPUT` error with `extensions.field`;
//! - `refused`: a request refused before execution has no `data` key.

mod inputs;
mod nulls;
mod order;
mod refused;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::{self, Role, Tenant, TestApp};

/// Ids of what [`world`] made, for queries by global id.
pub struct World {
    pub app: TestApp,
    /// Token of `bob`, an active `member` of `acme` (partner `p-one`) and `globex` (direct).
    pub bob: String,
    /// Token of `root`, a platform admin with an operator token.
    pub root: String,
}

/// Partners `p-one` and `p-two`; tenants `acme` (of `p-one`, with a subscription and two
/// failed provisioning steps) and `globex` (direct, with a subscription); `bob` and `root`.
pub async fn world() -> World {
    let w = support::World::new()
        .partner("p-one")
        .partner("p-two")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("globex")
        .member("bob", "acme", Role::Member)
        .member("bob", "globex", Role::Member)
        .operator("root")
        .spawn()
        .await;
    let (acme, globex) = (w.id("acme"), w.id("globex"));
    let (bob, root) = (w.token("bob"), w.token("root"));
    let mut conn = w.db.connect().await;
    use diesel_async::RunQueryDsl;
    for sql in [
        format!(
            "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
             VALUES ('{acme}', 'standard', 'active', 5, 1000, 'EUR', 'monthly'),
                    ('{globex}', 'standard', 'active', 3, 900, 'EUR', 'monthly')"
        ),
        format!(
            "INSERT INTO provisioning_steps (tenant_id, step, status, attempts, last_error)
             VALUES ('{acme}', 'authentik_group', 'error', 3, 'authentik: 503'),
                    ('{acme}', 'stalwart_domain', 'error', 1, 'stalwart: 500')"
        ),
    ] {
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("seed subscriptions and steps");
    }
    World {
        app: w.app,
        bob,
        root,
    }
}

/// The status and exact body of a POST of `body`, as the bearer of `token` (if any),
/// accepting `accept`.
pub async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    body: &Value,
    accept: &str,
) -> (u16, String) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, accept)
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("POST /graphql");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The exact body of `query` (200, `application/json`).
pub async fn raw(app: &TestApp, token: Option<&str>, query: &str) -> String {
    raw_with(app, token, query, json!({})).await
}

/// The exact body of `query` with `variables` (200, `application/json`).
pub async fn raw_with(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> String {
    let body = json!({ "query": query, "variables": variables });
    let (status, text) = post_raw(app, token, &body, "application/json").await;
    assert_eq!(status, 200, "{text}");
    text
}

/// Compares bytes, printing both when they differ.
#[track_caller]
pub fn same(actual: &str, expected: &str) {
    assert!(
        actual == expected,
        "response bytes differ\n  actual: {actual}\nexpected: {expected}"
    );
}

/// The global id of `type_name` `uuid` (`base64("Type:uuid")`).
pub async fn global_id(app: &TestApp, token: &str, slug: &str) -> String {
    let body: Value = serde_json::from_str(
        &raw(
            app,
            Some(token),
            &format!(r#"{{ tenant(slug: "{slug}") {{ id }} }}"#),
        )
        .await,
    )
    .unwrap();
    body["data"]["tenant"]["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}
