//! Feature flags: rules, rollout, archive, fail-closed reads, one statement for all flags,
//! and every mutation allowed / denied / invalid.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::{Role, Tenant, World};

/// p-000 with tenants p-000-t-00.. (three digits from 101 tenants); root = operator; alice =
/// admin of the first; tenant "business-co" on plan business.
async fn world(tenants: i32) -> World {
    // The bulk slugs have at least two digits, three from 101 tenants on.
    let first = if tenants > 100 {
        "p-000-t-000"
    } else {
        "p-000-t-00"
    };
    let w = World::new()
        .bulk(1, tenants, 0)
        .operator("root")
        .member("alice", first, Role::Admin)
        .tenant(Tenant::new("business-co").plan("business"))
        .spawn()
        .await;
    // These tests count and list the flags they create: the one a migration creates (billing's
    // gate) is taken out of their way.
    let mut conn = w.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM feature_flags WHERE key = 'new_billing_engine'"),
        &mut conn,
    )
    .await
    .unwrap();
    w
}

const CREATE_FLAG: &str = r#"
mutation($input: CreateFeatureFlagInput!) {
  createFeatureFlag(input: $input) { featureFlag { key defaultValue enabled } }
}"#;

const UPDATE_FLAG: &str = r#"
mutation($input: UpdateFeatureFlagInput!) {
  updateFeatureFlag(input: $input) { featureFlag { key enabled rules { kind } } }
}"#;

const ARCHIVE_FLAG: &str = r#"
mutation($input: ArchiveFeatureFlagInput!) {
  archiveFeatureFlag(input: $input) { featureFlag { key archivedAt } }
}"#;

/// One flag of one tenant.
const FLAG_OF: &str = r#"
query($tenant: String!, $key: String!) {
  tenant(slug: $tenant) { featureFlag(key: $key) }
}"#;

async fn create(w: &World, key: &str, rules: Value) {
    let input = json!({ "input": { "key": key, "defaultValue": false, "rules": rules } });
    let body = w.query_with("root", CREATE_FLAG, input).await;
    assert!(body.get("errors").is_none(), "{body}");
}

async fn update(w: &World, input: Value) {
    let body = w
        .query_with("root", UPDATE_FLAG, json!({ "input": input }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

async fn value(w: &World, tenant: &str, key: &str) -> Value {
    let body = w
        .query_with("root", FLAG_OF, json!({ "tenant": tenant, "key": key }))
        .await;
    body["data"]["tenant"]["featureFlag"].clone()
}

#[tokio::test]
async fn rules_decide_in_order_and_unknown_keys_are_false() {
    let w = world(3).await;
    create(
        &w,
        "new_billing",
        json!([
            { "tenants": ["p-000-t-01"], "value": false },
            { "partner": "p-000", "value": true },
            { "plans": ["business"], "value": true }
        ]),
    )
    .await;
    assert_eq!(
        value(&w, "p-000-t-00", "new_billing").await,
        true,
        "partner rule"
    );
    assert_eq!(
        value(&w, "p-000-t-01", "new_billing").await,
        false,
        "listed tenant wins over the partner rule"
    );
    assert_eq!(
        value(&w, "business-co", "new_billing").await,
        true,
        "plan rule"
    );
    // Unknown key: false, no error.
    let body = w
        .query_with(
            "root",
            FLAG_OF,
            json!({ "tenant": "p-000-t-00", "key": "no_such_flag" }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["tenant"]["featureFlag"], false);
    // The operator view says which rule decides how many tenants.
    let body = w
        .query(
            "root",
            r#"{ featureFlag(key: "new_billing") { rules { kind value matchedTenants } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["featureFlag"]["rules"],
        json!([
            { "kind": "TENANTS", "value": false, "matchedTenants": 1 },
            { "kind": "PARTNER", "value": true, "matchedTenants": 2 },
            { "kind": "PLANS", "value": true, "matchedTenants": 1 }
        ])
    );
}

#[tokio::test]
async fn a_members_view_is_limited_to_their_tenant() {
    let w = world(2).await;
    create(&w, "beta", json!([{ "partner": "p-000", "value": true }])).await;
    let own = w
        .query(
            "alice",
            r#"{ tenant(slug: "p-000-t-00") { featureFlags { key value } } }"#,
        )
        .await;
    assert_eq!(
        own["data"]["tenant"]["featureFlags"],
        json!([{ "key": "beta", "value": true }])
    );
    let foreign = w
        .query_with(
            "alice",
            FLAG_OF,
            json!({ "tenant": "p-000-t-01", "key": "beta" }),
        )
        .await;
    assert_eq!(first_error_code(&foreign), "NOT_FOUND");
    let listing = w.query("alice", "{ featureFlags { totalCount } }").await;
    assert_eq!(
        first_error_code(&listing),
        "FORBIDDEN",
        "the flag list is for operators"
    );
}

/// Slugs of the p-000 tenants for which flag `gradual` is on (two pages of 100).
async fn enabled(w: &World) -> HashSet<String> {
    const PAGE: &str = r#"
    query($after: String) {
      tenants(first: 100, after: $after, filter: { partner: "p-000" }) {
        edges { node { slug featureFlag(key: "gradual") } }
        pageInfo { endCursor }
      }
    }"#;
    let first = w.query_with("root", PAGE, json!({ "after": null })).await;
    let cursor = first["data"]["tenants"]["pageInfo"]["endCursor"].clone();
    let second = w.query_with("root", PAGE, json!({ "after": cursor })).await;
    [first, second]
        .iter()
        .flat_map(|b| b["data"]["tenants"]["edges"].as_array().unwrap().clone())
        .filter(|e| e["node"]["featureFlag"] == true)
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn rollout_is_stable_and_raising_it_keeps_earlier_tenants() {
    let w = world(200).await;
    create(&w, "gradual", json!([{ "percentage": 10, "value": true }])).await;
    let ten = enabled(&w).await;
    assert_eq!(ten, enabled(&w).await, "the same tenants every time");
    assert!(
        (8..=35).contains(&ten.len()),
        "about 10% of 200: {}",
        ten.len()
    );
    update(
        &w,
        json!({ "key": "gradual", "rules": [{ "percentage": 20, "value": true }] }),
    )
    .await;
    let twenty = enabled(&w).await;
    assert!(
        ten.is_subset(&twenty),
        "raising the percentage keeps the first tenants"
    );
    assert!(twenty.len() > ten.len());
}

#[tokio::test]
async fn fifty_flags_are_evaluated_with_one_statement() {
    let mut w = world(1).await;
    // Fifty flags, each on for the plan every tenant here is on.
    let rules = json!([{ "kind": "plans", "plans": ["standard"], "value": true }]);
    let mut flags = World::new();
    for n in 1..=50 {
        flags = flags.feature_flag(&format!("flag_{n}"), n % 2 == 0, rules.clone());
    }
    w.arrange(flags).await;
    let token = w.token("root");
    let before = w.statements();
    w.graphql_as(&token, r#"{ tenant(slug: "p-000-t-00") { slug } }"#)
        .await;
    let plain = w.statements() - before;
    let before = w.statements();
    let body = w
        .graphql_as(
            &token,
            r#"{
              tenant(slug: "p-000-t-00") {
                slug
                featureFlags { key value }
                a: featureFlag(key: "flag_1")
                b: featureFlag(key: "flag_2")
              }
            }"#,
        )
        .await;
    let with_flags = w.statements() - before;
    assert_eq!(
        body["data"]["tenant"]["featureFlags"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert!(
        body["data"]["tenant"]["featureFlags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["value"] == true)
    );
    assert_eq!(
        with_flags,
        plain + 1,
        "every flag, and every single read, in one statement"
    );
}

#[tokio::test]
async fn archived_flags_read_false_and_disappear() {
    let w = world(1).await;
    create(&w, "old_ui", json!([{ "partner": "p-000", "value": true }])).await;
    assert_eq!(value(&w, "p-000-t-00", "old_ui").await, true);
    let old_ui = json!({ "input": { "key": "old_ui" } });
    w.allowed("root", ARCHIVE_FLAG, old_ui.clone(), "feature_flag.archive")
        .await;
    assert_eq!(value(&w, "p-000-t-00", "old_ui").await, false);
    let body = w
        .query(
            "root",
            r#"{ tenant(slug: "p-000-t-00") { featureFlags { key } } }"#,
        )
        .await;
    assert_eq!(body["data"]["tenant"]["featureFlags"], json!([]));
    let listing = w
        .query(
            "root",
            "{ a: featureFlags { totalCount } b: featureFlags(includeArchived: true) { totalCount } }",
        )
        .await;
    assert_eq!(
        (
            listing["data"]["a"]["totalCount"].as_i64(),
            listing["data"]["b"]["totalCount"].as_i64()
        ),
        (Some(0), Some(1))
    );
    w.invalid(
        "root",
        ARCHIVE_FLAG,
        old_ui,
        "feature_flag.archive",
        "input.key",
    )
    .await;
    w.invalid(
        "root",
        UPDATE_FLAG,
        json!({ "input": { "key": "old_ui", "enabled": false } }),
        "feature_flag.update",
        "input.key",
    )
    .await;
}

#[tokio::test]
async fn flag_mutations_allowed_denied_invalid() {
    let w = world(1).await;
    let new = |key: &str, rules: Value| {
        json!({ "input": {
            "key": key, "defaultValue": true, "description": "x", "rules": rules
        } })
    };
    w.allowed(
        "root",
        CREATE_FLAG,
        new("flag_a", json!([])),
        "feature_flag.create",
    )
    .await;
    for (who, code) in [(Some("alice"), "FORBIDDEN"), (None, "UNAUTHENTICATED")] {
        w.denied(
            who,
            CREATE_FLAG,
            new("flag_b", json!([])),
            "feature_flag.create",
            code,
        )
        .await;
    }
    for (input, field) in [
        (new("Bad-Key", json!([])), "input.key"),
        (new("flag_b", json!([{ "value": true }])), "input.rules.0"),
        (
            new(
                "flag_b",
                json!([{ "plans": ["a"], "percentage": 5, "value": true }]),
            ),
            "input.rules.0",
        ),
        (
            new("flag_b", json!([{ "tenants": ["nope"], "value": true }])),
            "input.rules.0.tenants",
        ),
        (
            new("flag_b", json!([{ "percentage": 101, "value": true }])),
            "input.rules.0.percentage",
        ),
    ] {
        w.invalid("root", CREATE_FLAG, input, "feature_flag.create", field)
            .await;
    }
    w.refused(
        Some("root"),
        CREATE_FLAG,
        new("flag_a", json!([])),
        "feature_flag.create",
        "CONFLICT",
        "failure",
    )
    .await;

    let flag_a = |fields: Value| {
        let mut input = json!({ "key": "flag_a" });
        input
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        json!({ "input": input })
    };
    let body = w
        .allowed(
            "root",
            UPDATE_FLAG,
            flag_a(json!({ "enabled": false, "rules": [{ "partner": "p-000", "value": true }] })),
            "feature_flag.update",
        )
        .await;
    assert_eq!(
        body["data"]["updateFeatureFlag"]["featureFlag"]["enabled"],
        false
    );
    w.denied(
        Some("alice"),
        UPDATE_FLAG,
        flag_a(json!({ "enabled": true })),
        "feature_flag.update",
        "FORBIDDEN",
    )
    .await;
    w.invalid(
        "root",
        UPDATE_FLAG,
        flag_a(json!({ "rules": [{ "partner": "nope", "value": true }] })),
        "feature_flag.update",
        "input.rules.0.partner",
    )
    .await;
    w.invalid(
        "root",
        UPDATE_FLAG,
        flag_a(json!({})),
        "feature_flag.update",
        "input",
    )
    .await;
    w.refused(
        Some("root"),
        UPDATE_FLAG,
        json!({ "input": { "key": "nope", "enabled": true } }),
        "feature_flag.update",
        "NOT_FOUND",
        "failure",
    )
    .await;
    w.denied(
        Some("alice"),
        ARCHIVE_FLAG,
        json!({ "input": { "key": "flag_a" } }),
        "feature_flag.archive",
        "FORBIDDEN",
    )
    .await;
    // A disabled flag gives its default (true) whatever its rules say.
    assert_eq!(value(&w, "p-000-t-00", "flag_a").await, true);
}

mod live {
    use std::time::Duration;

    use diesel_async::RunQueryDsl;
    use serde_json::{Value, json};

    use super::{create, update, world};
    use crate::support::ws::{Incoming, WsClient};

    const FLAGS_CHANGED: &str = r#"
    subscription($tenant: String!) {
      featureFlagsChanged(tenantSlug: $tenant) { key value }
    }"#;

    async fn subscribe(ws: &mut WsClient, tenant: &str) {
        ws.send(json!({ "id": "f", "type": "subscribe", "payload": {
            "query": FLAGS_CHANGED, "variables": { "tenant": tenant }
        } }))
        .await;
    }

    /// Subscribes and returns the current values the server sends first (which also shows the
    /// subscription is live before anything changes).
    async fn subscribe_live(ws: &mut WsClient, tenant: &str) -> Value {
        subscribe(ws, tenant).await;
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                m["payload"]["data"]["featureFlagsChanged"].clone()
            }
            other => panic!("expected the current values, got {other:?}"),
        }
    }

    /// `{ key: "beta", ...fields }`.
    fn beta(fields: Value) -> Value {
        let mut input = json!({ "key": "beta" });
        input
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        input
    }

    #[tokio::test]
    async fn a_change_is_pushed_to_the_tenants_subscribers() {
        let w = world(1).await;
        create(&w, "beta", json!([])).await;
        let mut ws = WsClient::connect_authenticated(w.addr, &w.token("alice")).await;
        assert_eq!(
            subscribe_live(&mut ws, "p-000-t-00").await,
            json!([{ "key": "beta", "value": false }])
        );
        update(
            &w,
            beta(json!({ "rules": [{ "partner": "p-000", "value": true }] })),
        )
        .await;
        match ws.next().await {
            Incoming::Json(m) => {
                assert_eq!(m["type"], "next", "{m}");
                assert_eq!(
                    m["payload"]["data"]["featureFlagsChanged"],
                    json!([{ "key": "beta", "value": true }])
                );
            }
            other => panic!("expected a change, got {other:?}"),
        }
        // A change that does not alter this tenant's values sends nothing; the next real one does.
        update(&w, beta(json!({ "description": "still on" }))).await;
        update(&w, beta(json!({ "defaultValue": false, "enabled": false }))).await;
        match ws.next().await {
            Incoming::Json(m) => assert_eq!(
                m["payload"]["data"]["featureFlagsChanged"],
                json!([{ "key": "beta", "value": false }]),
                "{m}"
            ),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn another_tenants_flags_cannot_be_watched() {
        let w = world(2).await;
        create(&w, "beta", json!([])).await;
        let mut ws = WsClient::connect_authenticated(w.addr, &w.token("alice")).await;
        subscribe(&mut ws, "p-000-t-01").await;
        match ws.next().await {
            Incoming::Json(m) => {
                // An execution error travels in `next` (graphql-transport-ws keeps `error` for
                // requests that never run), with no data.
                assert_eq!(m["type"], "next", "{m}");
                assert!(m["payload"]["data"].is_null(), "{m}");
                assert_eq!(m["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        match ws.next().await {
            Incoming::Json(m) => assert_eq!(m["type"], "complete", "the subscription ends: {m}"),
            other => panic!("expected complete, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn changes_still_arrive_after_the_listener_connection_is_killed() {
        let w = world(1).await;
        create(&w, "beta", json!([])).await;
        let mut conn = w.db.connect().await;
        let killed = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(killed, 1, "one listener per app");
        let mut ws = WsClient::connect_authenticated(w.addr, &w.token("alice")).await;
        subscribe_live(&mut ws, "p-000-t-00").await;
        // Give the listener its reconnect (backoff starts at 100 ms).
        tokio::time::sleep(Duration::from_millis(700)).await;
        update(
            &w,
            beta(json!({ "rules": [{ "partner": "p-000", "value": true }] })),
        )
        .await;
        match ws.next().await {
            Incoming::Json(m) => assert_eq!(
                m["payload"]["data"]["featureFlagsChanged"],
                json!([{ "key": "beta", "value": true }]),
                "{m}"
            ),
            other => panic!("expected a change, got {other:?}"),
        }
    }
}
