//! What the database says a caller may touch: operator powers, tenant and partner scoping,
//! and the `me` bootstrap sync of the groups claim.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use platform_api::graphql::ids::{GlobalId, NodeType};
use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::tables::count;
use crate::support::{Level, Role, Tenant, TestApp, Token, World};

const STATUS: &str = "{ systemStatus { apiVersion environment } }";

#[tokio::test]
async fn operator_fields_need_the_operator_audience_and_the_admin_flag() {
    let w = World::new().operator("root").user("clerk").spawn().await;

    let portal_admin = w.who("root").via_portal().sign(&w);
    let body = w.graphql_as(&portal_admin, STATUS).await;
    assert_eq!(
        first_error_code(&body),
        "FORBIDDEN",
        "portal token of a platform admin"
    );

    let operator_non_admin = w.who("clerk").via_operator().sign(&w);
    let body = w.graphql_as(&operator_non_admin, STATUS).await;
    assert_eq!(
        first_error_code(&body),
        "FORBIDDEN",
        "operator token of a non-admin"
    );

    let operator_admin = w.token("root");
    let body = w.graphql_as(&operator_admin, STATUS).await;
    assert_eq!(
        body["data"]["systemStatus"]["environment"], "development",
        "{body}"
    );

    // Revoked in the database: the very next request with the same token is refused.
    w.set_platform_admin("root", false).await;
    let body = w.graphql_as(&operator_admin, STATUS).await;
    assert_eq!(first_error_code(&body), "FORBIDDEN");

    // Anonymous callers are not even authenticated.
    assert_eq!(
        first_error_code(&w.graphql(STATUS).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn the_groups_claim_is_not_read_outside_me() {
    let app = TestApp::spawn().await;
    let claims_admin = Token::operator("pretender")
        .email("pretender@example.com")
        .groups(&["dezky-platform-admins"])
        .sign(&app);
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
    let w = World::new()
        .tenant("tenant-a")
        .tenant("tenant-b")
        .member("alice", "tenant-a", Role::Admin)
        .spawn()
        .await;
    let (app, t) = (&w.app, w.token("alice"));

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
    const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on Tenant { slug } } }";
    let foreign = app
        .graphql_as_with(&t, NODE, json!({ "id": node(w.id("tenant-b")) }))
        .await;
    let missing = app
        .graphql_as_with(&t, NODE, json!({ "id": node(uuid::Uuid::new_v4()) }))
        .await;
    assert_eq!(first_error_code(&foreign), "NOT_FOUND");
    assert_eq!(error_shape(&foreign), error_shape(&missing));
    let body = app
        .graphql_as_with(
            &t,
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Tenant { slug } } }",
            json!({ "ids": [node(w.id("tenant-a")), node(w.id("tenant-b"))] }),
        )
        .await;
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "slug": "tenant-a" }, null]),
        "{body}"
    );

    // A suspended membership grants nothing (changed behind the app's back).
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE memberships SET status = 'suspended'")
        .execute(&mut conn)
        .await
        .unwrap();
    let body = app
        .graphql_as(&t, r#"{ tenant(slug: "tenant-a") { slug } }"#)
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn partner_staff_see_their_partner_and_its_tenants_only() {
    let w = World::new()
        .partner("reseller-one")
        .partner("reseller-two")
        .tenant(Tenant::of("customer-one", "reseller-one"))
        .tenant(Tenant::of("customer-two", "reseller-two"))
        .tenant("direct-customer")
        .staff("bob", "reseller-one", Level::Member)
        .spawn()
        .await;
    let (app, t) = (&w.app, w.token("bob"));

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
    let foreign_partner = GlobalId::new(NodeType::Partner, w.id("reseller-two")).encode();
    let body = app
        .graphql_as_with(
            &t,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": foreign_partner }),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn operators_see_everything() {
    let w = World::new()
        .operator("root")
        .partner("reseller-one")
        .tenant(Tenant::of("customer-one", "reseller-one"))
        .spawn()
        .await;
    let (app, t) = (&w.app, w.token("root"));
    let body = app
        .graphql_as(
            &t,
            r#"{ partner(slug: "reseller-one") { slug } tenant(slug: "customer-one") { slug } }"#,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // The same admin with a portal token is just a user.
    let portal = w.who("root").via_portal().sign(app);
    let body = app
        .graphql_as(&portal, r#"{ tenant(slug: "customer-one") { slug } }"#)
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn me_creates_the_user_once_and_keeps_email_and_name_in_sync() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let first = Token::portal("newcomer")
        .email("old@example.com")
        .name("Old Name")
        .ttl(Duration::from_secs(60));
    let body = app
        .graphql_as(&first.sign(&app), "{ me { user { id email name } } }")
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "old@example.com");
    let id = body["data"]["me"]["user"]["id"].clone();
    let second = first.email("new@example.com").name("New Name");
    let body = app
        .graphql_as(&second.sign(&app), "{ me { user { id email name } } }")
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "new@example.com");
    assert_eq!(body["data"]["me"]["user"]["name"], "New Name");
    assert_eq!(body["data"]["me"]["user"]["id"], id, "the same user");
    assert_eq!(
        count(&mut conn, "users WHERE authentik_subject = 'newcomer'").await,
        1
    );
    // Nothing changed since: the next request neither updates nor locks the row (its xmax
    // stays as it was), so reading the Viewer writes nothing.
    diesel::sql_query(
        "CREATE TEMP TABLE before_xmax AS \
         SELECT xmax::text AS x FROM users WHERE authentik_subject = 'newcomer'",
    )
    .execute(&mut conn)
    .await
    .expect("snapshot xmax");
    let body = app
        .graphql_as(&second.sign(&app), "{ me { user { email } } }")
        .await;
    assert_eq!(body["data"]["me"]["user"]["email"], "new@example.com");
    assert_eq!(
        count(
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
    let w = World::new().tenant("acme").spawn().await;
    let app = &w.app;
    let mut conn = app.db.connect().await;
    // ops signs in for the first time, with the groups claim.
    let ops = Token::operator("ops").email("ops@example.com");
    let with_groups = ops
        .clone()
        .groups(&["dezky-platform-admins", "acme", "no-such-tenant"])
        .sign(app);
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
        json!([{ "tenantSlug": "acme", "role": "MEMBER", "status": "ACTIVE" }])
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'user.platform_admin.grant'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&mut conn, "audit_events WHERE action = 'membership.create'").await,
        1
    );
    // Applying the same claim again changes and audits nothing.
    app.graphql_as(&with_groups, "{ me { platformAdmin } }")
        .await;
    assert_eq!(count(&mut conn, "audit_events").await, 2);
    // The admin group gone from the claim: revoked (membership kept).
    let without = ops.clone().groups(&[]).sign(app);
    let body = app
        .graphql_as(
            &without,
            "{ me { platformAdmin memberships { tenantSlug } } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["platformAdmin"], false);
    assert_eq!(body["data"]["me"]["memberships"][0]["tenantSlug"], "acme");
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'user.platform_admin.revoke'"
        )
        .await,
        1
    );
    // No groups claim at all: nothing changes.
    w.set_platform_admin("ops", true).await;
    let no_claim = ops.sign(app);
    assert_eq!(
        app.graphql_as(&no_claim, "{ me { platformAdmin } }").await["data"]["me"]["platformAdmin"],
        true
    );
}

#[tokio::test]
async fn resolving_the_viewer_is_one_statement() {
    let w = World::new()
        .tenant("tenant-a")
        .member("alice", "tenant-a", Role::Member)
        .spawn()
        .await;
    let (app, t) = (&w.app, w.token("alice"));
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
