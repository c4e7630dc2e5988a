//! What the database says a caller may touch: operator powers, tenant and partner scoping,
//! and the `me` bootstrap sync of the groups claim.

use std::time::Duration;

use platform_api::auth::dev_issuer::DevTokenRequest;
use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::Value;

use crate::support::app::first_error_code;
use crate::support::{TestApp, seed};

const STATUS: &str = "{ systemStatus { apiVersion environment } }";

fn token(app: &TestApp, sub: &str, aud: &str, groups: Option<&[&str]>) -> String {
    let request = DevTokenRequest {
        sub: sub.into(),
        aud: aud.into(),
        email: Some(format!("{sub}@example.com")),
        name: None,
        groups: groups.map(|g| g.iter().map(|s| s.to_string()).collect()),
    };
    app.token_with(&request, Duration::from_secs(600))
}

#[tokio::test]
async fn operator_fields_need_the_operator_audience_and_the_admin_flag() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    seed::user(&mut conn, "root", true).await;
    seed::user(&mut conn, "clerk", false).await;

    let portal_admin = token(&app, "root", "dezky-portal", None);
    let body = app.graphql_as(&portal_admin, STATUS).await;
    assert_eq!(
        first_error_code(&body),
        "FORBIDDEN",
        "portal token of a platform admin"
    );

    let operator_non_admin = token(&app, "clerk", "dezky-operator", None);
    let body = app.graphql_as(&operator_non_admin, STATUS).await;
    assert_eq!(
        first_error_code(&body),
        "FORBIDDEN",
        "operator token of a non-admin"
    );

    let operator_admin = token(&app, "root", "dezky-operator", None);
    let body = app.graphql_as(&operator_admin, STATUS).await;
    assert_eq!(
        body["data"]["systemStatus"]["environment"], "development",
        "{body}"
    );

    // Revoked in the database: the very next request with the same token is refused.
    seed::set_admin(&mut conn, "root", false).await;
    let body = app.graphql_as(&operator_admin, STATUS).await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");

    // Anonymous callers are not even authenticated.
    assert_eq!(
        first_error_code(&app.graphql(STATUS).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn the_groups_claim_is_not_read_outside_me() {
    let app = TestApp::spawn().await;
    let claims_admin = token(
        &app,
        "pretender",
        "dezky-operator",
        Some(&["dezky-platform-admins"]),
    );
    let body = app.graphql_as(&claims_admin, STATUS).await;
    assert_eq!(
        first_error_code(&body),
        "FORBIDDEN",
        "a groups claim alone grants nothing"
    );
}

/// The error part of a response, for comparing two responses.
fn error_shape(body: &Value) -> Value {
    let mut e = body["errors"][0].clone();
    e.as_object_mut().unwrap().remove("locations");
    serde_json::json!({ "data": body["data"], "error": e })
}

#[tokio::test]
async fn another_tenant_answers_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let alice = seed::user(&mut conn, "alice", false).await;
    let a = seed::tenant(&mut conn, "tenant-a", None).await;
    let b = seed::tenant(&mut conn, "tenant-b", None).await;
    seed::membership(&mut conn, alice, a, "admin", "active").await;
    let t = token(&app, "alice", "dezky-portal", None);

    let own = app
        .graphql_as(&t, r#"{ tenant(slug: "tenant-a") { slug name status } }"#)
        .await;
    assert_eq!(own["data"]["tenant"]["slug"], "tenant-a", "{own}");

    let foreign = app
        .graphql_as(&t, r#"{ tenant(slug: "tenant-b") { slug } }"#)
        .await;
    let missing = app
        .graphql_as(&t, r#"{ tenant(slug: "no-such") { slug } }"#)
        .await;
    assert_eq!(first_error_code(&foreign), "NOT_FOUND");
    assert_eq!(error_shape(&foreign), error_shape(&missing));

    // The same through node(id:) and nodes(ids:).
    let node = |id: uuid::Uuid| GlobalId::new(NodeType::Tenant, id).encode();
    let q = |id: String| format!(r#"{{ node(id: "{id}") {{ id ... on Tenant {{ slug }} }} }}"#);
    let foreign = app.graphql_as(&t, &q(node(b))).await;
    let missing = app.graphql_as(&t, &q(node(uuid::Uuid::new_v4()))).await;
    assert_eq!(first_error_code(&foreign), "NOT_FOUND");
    assert_eq!(error_shape(&foreign), error_shape(&missing));
    let body = app
        .graphql_as(
            &t,
            &format!(
                r#"{{ nodes(ids: ["{}", "{}"]) {{ ... on Tenant {{ slug }} }} }}"#,
                node(a),
                node(b)
            ),
        )
        .await;
    assert_eq!(
        body["data"]["nodes"],
        serde_json::json!([{ "slug": "tenant-a" }, null]),
        "{body}"
    );

    // A suspended membership grants nothing.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE memberships SET status = 'suspended'"),
        &mut conn,
    )
    .await
    .unwrap();
    let body = app
        .graphql_as(&t, r#"{ tenant(slug: "tenant-a") { slug } }"#)
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn partner_staff_see_their_partner_and_its_tenants_only() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let bob = seed::user(&mut conn, "bob", false).await;
    let p1 = seed::partner(&mut conn, "reseller-one").await;
    let p2 = seed::partner(&mut conn, "reseller-two").await;
    seed::tenant(&mut conn, "customer-one", Some(p1)).await;
    seed::tenant(&mut conn, "customer-two", Some(p2)).await;
    seed::tenant(&mut conn, "direct-customer", None).await;
    seed::staff(&mut conn, bob, p1, "member").await;
    let t = token(&app, "bob", "dezky-portal", None);

    let ok = app
        .graphql_as(
            &t,
            r#"{ partner(slug: "reseller-one") { slug } tenant(slug: "customer-one") { slug } }"#,
        )
        .await;
    assert_eq!(ok["data"]["partner"]["slug"], "reseller-one", "{ok}");
    assert_eq!(ok["data"]["tenant"]["slug"], "customer-one");
    for q in [
        r#"{ partner(slug: "reseller-two") { slug } }"#,
        r#"{ tenant(slug: "customer-two") { slug } }"#,
        r#"{ tenant(slug: "direct-customer") { slug } }"#,
    ] {
        assert_eq!(
            first_error_code(&app.graphql_as(&t, q).await),
            "NOT_FOUND",
            "{q}"
        );
    }
    let foreign_partner = GlobalId::new(NodeType::Partner, p2).encode();
    let body = app
        .graphql_as(
            &t,
            &format!(r#"{{ node(id: "{foreign_partner}") {{ id }} }}"#),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn operators_see_everything() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    seed::user(&mut conn, "root", true).await;
    let p = seed::partner(&mut conn, "reseller-one").await;
    seed::tenant(&mut conn, "customer-one", Some(p)).await;
    let t = token(&app, "root", "dezky-operator", None);
    let body = app
        .graphql_as(
            &t,
            r#"{ partner(slug: "reseller-one") { slug } tenant(slug: "customer-one") { slug } }"#,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // The same admin with a portal token is just a user.
    let portal = token(&app, "root", "dezky-portal", None);
    let body = app
        .graphql_as(&portal, r#"{ tenant(slug: "customer-one") { slug } }"#)
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn me_creates_the_user_once_and_keeps_email_and_name_in_sync() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let first = DevTokenRequest {
        sub: "newcomer".into(),
        aud: "dezky-portal".into(),
        email: Some("old@example.com".into()),
        name: Some("Old Name".into()),
        groups: None,
    };
    let body = app
        .graphql_as(
            &app.token_with(&first, Duration::from_secs(60)),
            "{ me { user { id email name } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "old@example.com");
    let id = body["data"]["me"]["user"]["id"].clone();
    let second = DevTokenRequest {
        email: Some("new@example.com".into()),
        name: Some("New Name".into()),
        ..first
    };
    let body = app
        .graphql_as(
            &app.token_with(&second, Duration::from_secs(60)),
            "{ me { user { id email name } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "new@example.com");
    assert_eq!(body["data"]["me"]["user"]["name"], "New Name");
    assert_eq!(body["data"]["me"]["user"]["id"], id, "the same user");
    assert_eq!(
        seed::count(&mut conn, "users WHERE authentik_subject = 'newcomer'").await,
        1
    );
    // Nothing changed since: the next request neither updates nor locks the row (its xmax
    // stays as it was), so reading the Viewer writes nothing.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "CREATE TEMP TABLE before_xmax AS \
             SELECT xmax::text AS x FROM users WHERE authentik_subject = 'newcomer'",
        ),
        &mut conn,
    )
    .await
    .expect("snapshot xmax");
    let body = app
        .graphql_as(
            &app.token_with(&second, Duration::from_secs(60)),
            "{ me { user { email } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "new@example.com");
    assert_eq!(
        seed::count(
            &mut conn,
            "users WHERE authentik_subject = 'newcomer' \
             AND xmax::text = (SELECT x FROM before_xmax)"
        )
        .await,
        1,
        "the user's row was locked or rewritten by a request that changed nothing"
    );
}

#[tokio::test]
async fn me_applies_the_groups_claim_with_audit_rows() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    seed::tenant(&mut conn, "acme", None).await;
    let with_groups = token(
        &app,
        "ops",
        "dezky-operator",
        Some(&["dezky-platform-admins", "acme", "no-such-tenant"]),
    );
    let body = app
        .graphql_as(
            &with_groups,
            "{ me { platformAdmin operator memberships { tenantSlug role status } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["platformAdmin"], true, "{body}");
    assert_eq!(body["data"]["me"]["operator"], true);
    assert_eq!(
        body["data"]["me"]["memberships"],
        serde_json::json!([{ "tenantSlug": "acme", "role": "MEMBER", "status": "ACTIVE" }])
    );
    assert_eq!(
        seed::count(
            &mut conn,
            "audit_events WHERE action = 'user.platform_admin.grant'"
        )
        .await,
        1
    );
    assert_eq!(
        seed::count(&mut conn, "audit_events WHERE action = 'membership.create'").await,
        1
    );
    // Applying the same claim again changes and audits nothing.
    app.graphql_as(&with_groups, "{ me { platformAdmin } }")
        .await;
    assert_eq!(seed::count(&mut conn, "audit_events").await, 2);
    // The admin group gone from the claim: revoked (membership kept).
    let without = token(&app, "ops", "dezky-operator", Some(&[]));
    let body = app
        .graphql_as(
            &without,
            "{ me { platformAdmin memberships { tenantSlug } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["platformAdmin"], false);
    assert_eq!(body["data"]["me"]["memberships"][0]["tenantSlug"], "acme");
    assert_eq!(
        seed::count(
            &mut conn,
            "audit_events WHERE action = 'user.platform_admin.revoke'"
        )
        .await,
        1
    );
    // No groups claim at all: nothing changes.
    seed::set_admin(&mut conn, "ops", true).await;
    let no_claim = token(&app, "ops", "dezky-operator", None);
    assert_eq!(
        app.graphql_as(&no_claim, "{ me { platformAdmin } }").await["data"]["me"]["platformAdmin"],
        true
    );
}

#[tokio::test]
async fn resolving_the_viewer_is_one_statement() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let alice = seed::user(&mut conn, "alice", false).await;
    let a = seed::tenant(&mut conn, "tenant-a", None).await;
    seed::membership(&mut conn, alice, a, "member", "active").await;
    let t = token(&app, "alice", "dezky-portal", None);
    let before = app.statements();
    let body = app
        .graphql_as(
            &t,
            r#"{ tenant(slug: "tenant-a") { slug } again: tenant(slug: "tenant-a") { name } }"#,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // One for the Viewer (shared by both fields), one per tenant lookup.
    assert_eq!(app.statements() - before, 3);
}
