//! Feature flags: rules, rollout, archive, fail-closed reads, one statement for all flags,
//! and every mutation allowed / denied / invalid.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::checks::{allowed, denied, invalid, refused, run};
use crate::support::{TestApp, seed};

/// p-000 with tenants p-000-t-00.. (three digits from 101 tenants); root = operator; alice =
/// admin of the first;
/// tenant "business-co" on plan business.
async fn world(tenants: i32) -> TestApp {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    seed::bulk(&mut conn, 1, tenants, 0).await;
    seed::user(&mut conn, "root", true).await;
    let alice = seed::user(&mut conn, "alice", false).await;
    let first: uuid::Uuid = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        diesel_async::RunQueryDsl::get_result::<Id>(
            diesel::sql_query(
                "SELECT id FROM tenants WHERE slug LIKE 'p-000-t-%' ORDER BY slug LIMIT 1",
            ),
            &mut conn,
        )
        .await
        .unwrap()
        .id
    };
    seed::membership(&mut conn, alice, first, "admin", "active").await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO tenants (slug, name, plan) VALUES ('business-co', 'B', 'business')",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    app
}

async fn create(app: &TestApp, key: &str, rules: &str) {
    let m = format!(
        r#"mutation {{ createFeatureFlag(input: {{ key: "{key}", defaultValue: false, rules: {rules} }}) {{ featureFlag {{ key }} }} }}"#
    );
    let body = run(app, Some("root"), &m).await;
    assert!(body.get("errors").is_none(), "{body}");
}

async fn value(app: &TestApp, tenant: &str, key: &str) -> Value {
    let body = run(
        app,
        Some("root"),
        &format!(r#"{{ tenant(slug: "{tenant}") {{ featureFlag(key: "{key}") }} }}"#),
    )
    .await;
    body["data"]["tenant"]["featureFlag"].clone()
}

#[tokio::test]
async fn rules_decide_in_order_and_unknown_keys_are_false() {
    let app = world(3).await;
    create(
        &app,
        "new_billing",
        r#"[{ tenants: ["p-000-t-01"], value: false }, { partner: "p-000", value: true }, { plans: ["business"], value: true }]"#,
    )
    .await;
    assert_eq!(
        value(&app, "p-000-t-00", "new_billing").await,
        true,
        "partner rule"
    );
    assert_eq!(
        value(&app, "p-000-t-01", "new_billing").await,
        false,
        "listed tenant wins over the partner rule"
    );
    assert_eq!(
        value(&app, "business-co", "new_billing").await,
        true,
        "plan rule"
    );
    // Unknown key: false, no error.
    let body = run(
        &app,
        Some("root"),
        r#"{ tenant(slug: "p-000-t-00") { featureFlag(key: "no_such_flag") } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["tenant"]["featureFlag"], false);
    // The operator view says which rule decides how many tenants.
    let body = run(
        &app,
        Some("root"),
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
    let app = world(2).await;
    create(&app, "beta", r#"[{ partner: "p-000", value: true }]"#).await;
    let own = run(
        &app,
        Some("alice"),
        r#"{ tenant(slug: "p-000-t-00") { featureFlags { key value } } }"#,
    )
    .await;
    assert_eq!(
        own["data"]["tenant"]["featureFlags"],
        json!([{ "key": "beta", "value": true }])
    );
    let foreign = run(
        &app,
        Some("alice"),
        r#"{ tenant(slug: "p-000-t-01") { featureFlag(key: "beta") } }"#,
    )
    .await;
    assert_eq!(first_error_code(&foreign), "NOT_FOUND");
    let listing = run(&app, Some("alice"), "{ featureFlags { totalCount } }").await;
    assert_eq!(
        first_error_code(&listing),
        "FORBIDDEN",
        "the flag list is for operators"
    );
}

/// Slugs of the p-000 tenants for which flag `gradual` is on (two pages of 100).
async fn enabled(app: &TestApp) -> HashSet<String> {
    let page = |after: String| {
        format!(
            "{{ tenants(first: 100{after}, filter: {{ partner: \"p-000\" }}) {{ edges {{ node {{ slug featureFlag(key: \"gradual\") }} }} pageInfo {{ endCursor }} }} }}"
        )
    };
    let first = run(app, Some("root"), &page(String::new())).await;
    let cursor = first["data"]["tenants"]["pageInfo"]["endCursor"].clone();
    let second = run(app, Some("root"), &page(format!(", after: {cursor}"))).await;
    [first, second]
        .iter()
        .flat_map(|b| b["data"]["tenants"]["edges"].as_array().unwrap().clone())
        .filter(|e| e["node"]["featureFlag"] == true)
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn rollout_is_stable_and_raising_it_keeps_earlier_tenants() {
    let app = world(200).await;
    create(&app, "gradual", "[{ percentage: 10, value: true }]").await;
    let ten = enabled(&app).await;
    assert_eq!(ten, enabled(&app).await, "the same tenants every time");
    assert!(
        (8..=35).contains(&ten.len()),
        "about 10% of 200: {}",
        ten.len()
    );
    let body = run(&app, Some("root"), r#"mutation { updateFeatureFlag(input: { key: "gradual", rules: [{ percentage: 20, value: true }] }) { featureFlag { key } } }"#).await;
    assert!(body.get("errors").is_none(), "{body}");
    let twenty = enabled(&app).await;
    assert!(
        ten.is_subset(&twenty),
        "raising the percentage keeps the first tenants"
    );
    assert!(twenty.len() > ten.len());
}

#[tokio::test]
async fn fifty_flags_are_evaluated_with_one_statement() {
    let app = world(1).await;
    let mut conn = app.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO feature_flags (key, default_value, rules)
             SELECT format('flag_%s', n), n % 2 = 0, '[{\"kind\":\"plans\",\"plans\":[\"standard\"],\"value\":true}]'::jsonb
               FROM generate_series(1, 50) n",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    let token = crate::support::checks::token(&app, "root");
    let before = app.statements();
    app.graphql_as(&token, r#"{ tenant(slug: "p-000-t-00") { slug } }"#)
        .await;
    let plain = app.statements() - before;
    let before = app.statements();
    let body = app.graphql_as(&token, r#"{ tenant(slug: "p-000-t-00") { slug featureFlags { key value } a: featureFlag(key: "flag_1") b: featureFlag(key: "flag_2") } }"#).await;
    let with_flags = app.statements() - before;
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
    let app = world(1).await;
    create(&app, "old_ui", r#"[{ partner: "p-000", value: true }]"#).await;
    assert_eq!(value(&app, "p-000-t-00", "old_ui").await, true);
    allowed(&app, "root", r#"mutation { archiveFeatureFlag(input: { key: "old_ui" }) { featureFlag { archivedAt } } }"#, "feature_flag.archive").await;
    assert_eq!(value(&app, "p-000-t-00", "old_ui").await, false);
    let body = run(
        &app,
        Some("root"),
        r#"{ tenant(slug: "p-000-t-00") { featureFlags { key } } }"#,
    )
    .await;
    assert_eq!(body["data"]["tenant"]["featureFlags"], json!([]));
    let listing = run(
        &app,
        Some("root"),
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
    invalid(
        &app,
        "root",
        r#"mutation { archiveFeatureFlag(input: { key: "old_ui" }) { featureFlag { key } } }"#,
        "feature_flag.archive",
        "input.key",
    )
    .await;
    invalid(&app, "root", r#"mutation { updateFeatureFlag(input: { key: "old_ui", enabled: false }) { featureFlag { key } } }"#, "feature_flag.update", "input.key").await;
}

#[tokio::test]
async fn flag_mutations_allowed_denied_invalid() {
    let app = world(1).await;
    let c = |key: &str, rules: &str| {
        format!(
            r#"mutation {{ createFeatureFlag(input: {{ key: "{key}", defaultValue: true, description: "x", rules: {rules} }}) {{ featureFlag {{ key defaultValue enabled }} }} }}"#
        )
    };
    allowed(&app, "root", &c("flag_a", "[]"), "feature_flag.create").await;
    denied(
        &app,
        Some("alice"),
        &c("flag_b", "[]"),
        "feature_flag.create",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        None,
        &c("flag_b", "[]"),
        "feature_flag.create",
        "UNAUTHENTICATED",
    )
    .await;
    invalid(
        &app,
        "root",
        &c("Bad-Key", "[]"),
        "feature_flag.create",
        "input.key",
    )
    .await;
    invalid(
        &app,
        "root",
        &c("flag_b", r#"[{ value: true }]"#),
        "feature_flag.create",
        "input.rules.0",
    )
    .await;
    invalid(
        &app,
        "root",
        &c(
            "flag_b",
            r#"[{ plans: ["a"], percentage: 5, value: true }]"#,
        ),
        "feature_flag.create",
        "input.rules.0",
    )
    .await;
    invalid(
        &app,
        "root",
        &c("flag_b", r#"[{ tenants: ["nope"], value: true }]"#),
        "feature_flag.create",
        "input.rules.0.tenants",
    )
    .await;
    invalid(
        &app,
        "root",
        &c("flag_b", r#"[{ percentage: 101, value: true }]"#),
        "feature_flag.create",
        "input.rules.0.percentage",
    )
    .await;
    refused(
        &app,
        Some("root"),
        &c("flag_a", "[]"),
        "feature_flag.create",
        "CONFLICT",
        "failure",
    )
    .await;

    let u = |fields: &str| {
        format!(
            r#"mutation {{ updateFeatureFlag(input: {{ key: "flag_a", {fields} }}) {{ featureFlag {{ enabled rules {{ kind }} }} }} }}"#
        )
    };
    let body = allowed(
        &app,
        "root",
        &u(r#"enabled: false, rules: [{ partner: "p-000", value: true }]"#),
        "feature_flag.update",
    )
    .await;
    assert_eq!(
        body["data"]["updateFeatureFlag"]["featureFlag"]["enabled"],
        false
    );
    denied(
        &app,
        Some("alice"),
        &u("enabled: true"),
        "feature_flag.update",
        "FORBIDDEN",
    )
    .await;
    invalid(
        &app,
        "root",
        &u(r#"rules: [{ partner: "nope", value: true }]"#),
        "feature_flag.update",
        "input.rules.0.partner",
    )
    .await;
    invalid(
        &app,
        "root",
        r#"mutation { updateFeatureFlag(input: { key: "flag_a" }) { featureFlag { key } } }"#,
        "feature_flag.update",
        "input",
    )
    .await;
    refused(&app, Some("root"), r#"mutation { updateFeatureFlag(input: { key: "nope", enabled: true }) { featureFlag { key } } }"#, "feature_flag.update", "NOT_FOUND", "failure").await;
    denied(
        &app,
        Some("alice"),
        r#"mutation { archiveFeatureFlag(input: { key: "flag_a" }) { featureFlag { key } } }"#,
        "feature_flag.archive",
        "FORBIDDEN",
    )
    .await;
    // A disabled flag gives its default (true) whatever its rules say.
    assert_eq!(value(&app, "p-000-t-00", "flag_a").await, true);
}

mod live {
    use std::time::Duration;

    use diesel_async::RunQueryDsl;
    use serde_json::json;

    use super::{create, world};
    use crate::support::checks::{run, token};
    use crate::support::ws::{Incoming, WsClient};

    async fn subscribe(ws: &mut WsClient, tenant: &str) {
        ws.send(json!({ "id": "f", "type": "subscribe", "payload": {
            "query": format!(r#"subscription {{ featureFlagsChanged(tenantSlug: "{tenant}") {{ key value }} }}"#)
        } }))
        .await;
    }

    /// Subscribes and returns the current values the server sends first (which also shows the
    /// subscription is live before anything changes).
    async fn subscribe_live(ws: &mut WsClient, tenant: &str) -> serde_json::Value {
        subscribe(ws, tenant).await;
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                m["payload"]["data"]["featureFlagsChanged"].clone()
            }
            other => panic!("expected the current values, got {other:?}"),
        }
    }

    async fn update(app: &crate::support::TestApp, percentage_or_default: &str) {
        let body = run(app, Some("root"), &format!(r#"mutation {{ updateFeatureFlag(input: {{ key: "beta", {percentage_or_default} }}) {{ featureFlag {{ key }} }} }}"#)).await;
        assert!(body.get("errors").is_none(), "{body}");
    }

    #[tokio::test]
    async fn a_change_is_pushed_to_the_tenants_subscribers() {
        let app = world(1).await;
        create(&app, "beta", "[]").await;
        let mut ws = WsClient::connect_authenticated(app.addr, &token(&app, "alice")).await;
        assert_eq!(
            subscribe_live(&mut ws, "p-000-t-00").await,
            json!([{ "key": "beta", "value": false }])
        );
        update(&app, r#"rules: [{ partner: "p-000", value: true }]"#).await;
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
        update(&app, r#"description: "still on""#).await;
        update(&app, "defaultValue: false, enabled: false").await;
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
        let app = world(2).await;
        create(&app, "beta", "[]").await;
        let mut ws = WsClient::connect_authenticated(app.addr, &token(&app, "alice")).await;
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
        let app = world(1).await;
        create(&app, "beta", "[]").await;
        let mut conn = app.db.connect().await;
        let killed = diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(killed, 1, "one listener per app");
        let mut ws = WsClient::connect_authenticated(app.addr, &token(&app, "alice")).await;
        subscribe_live(&mut ws, "p-000-t-00").await;
        // Give the listener its reconnect (backoff starts at 100 ms).
        tokio::time::sleep(Duration::from_millis(700)).await;
        update(&app, r#"rules: [{ partner: "p-000", value: true }]"#).await;
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
