//! Who sees which events: operators all, tenant admins their tenants', partner staff their
//! partners' and those partners' tenants', everyone else nothing; a filter naming something
//! outside the caller's view answers exactly like one naming nothing.

use serde_json::{Value, json};

use crate::support::World;

use super::{QUERY, expect, labels_for, world};
use crate::support::app::first_error_code;
use crate::support::tables::count;

#[tokio::test]
async fn each_role_sees_its_own_slice() {
    let w = world().await;
    let all = expect(&[9, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(labels_for(&w, "root", json!(null)).await, all, "operator");
    // Tenant admin: acme's events only, whoever recorded them and with or without a partner.
    assert_eq!(
        labels_for(&w, "alice", json!(null)).await,
        expect(&[9, 2, 1])
    );
    // Partner staff: the partner itself and the tenants it owns (also acme events recorded
    // without a partner), nothing of reseller-two, the direct tenant or the platform.
    assert_eq!(
        labels_for(&w, "bob", json!(null)).await,
        expect(&[9, 6, 2, 1])
    );
    // Nothing, and no error, for a plain member, a suspended owner and a stranger.
    for sub in ["mallory", "sam", "stranger"] {
        assert_eq!(labels_for(&w, sub, json!(null)).await, expect(&[]), "{sub}");
    }
}

#[tokio::test]
async fn operator_powers_need_both_the_audience_and_the_flag() {
    let w = world().await;
    // A platform admin with a portal token is a user without memberships.
    let portal_root = w.who("root").via_portal().sign(&w);
    let body = w
        .app
        .graphql_as_with(&portal_root, QUERY, json!({ "first": 100 }))
        .await;
    assert_eq!(super::labels(&body), expect(&[]));
    // An operator token without the flag is no better.
    let operator_alice = w.who("alice").via_operator().sign(&w);
    let body = w
        .app
        .graphql_as_with(&operator_alice, QUERY, json!({ "first": 100 }))
        .await;
    assert_eq!(
        super::labels(&body),
        expect(&[9, 2, 1]),
        "alice stays an acme admin"
    );
}

#[tokio::test]
async fn anonymous_callers_are_unauthenticated() {
    let w = world().await;
    let body = w.app.graphql_with(QUERY, json!({})).await;
    assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "{body}");
    assert_eq!(body["data"], Value::Null);
}

/// The whole response of `sub` for `filter`, with its statement count.
async fn answer(w: &World, sub: &str, filter: Value) -> (Value, u64) {
    let token = w.token(sub);
    // Resolve the Viewer once first, so both answers compared below start from the same
    // state (the first request of a subject may upsert its user).
    w.app.graphql_as(&token, "{ me { operator } }").await;
    let before = w.app.statements();
    let body = w
        .app
        .graphql_as_with(&token, QUERY, json!({ "filter": filter, "first": 10 }))
        .await;
    (body, w.app.statements() - before)
}

#[tokio::test]
async fn naming_a_foreign_tenant_or_partner_is_like_naming_a_missing_one() {
    let w = world().await;
    let cases = [
        (
            "alice",
            json!({ "tenant": "globex" }),
            json!({ "tenant": "no-such" }),
        ),
        (
            "alice",
            json!({ "tenant": "direct" }),
            json!({ "tenant": "no-such" }),
        ),
        (
            "alice",
            json!({ "partner": "reseller-two" }),
            json!({ "partner": "no-such" }),
        ),
        (
            "bob",
            json!({ "tenant": "globex" }),
            json!({ "tenant": "no-such" }),
        ),
        (
            "bob",
            json!({ "tenant": "direct" }),
            json!({ "tenant": "no-such" }),
        ),
        (
            "bob",
            json!({ "partner": "reseller-two" }),
            json!({ "partner": "no-such" }),
        ),
        (
            "mallory",
            json!({ "tenant": "acme" }),
            json!({ "tenant": "no-such" }),
        ),
    ];
    for (sub, foreign, missing) in cases {
        let (foreign_body, foreign_cost) = answer(&w, sub, foreign.clone()).await;
        let (missing_body, missing_cost) = answer(&w, sub, missing).await;
        assert_eq!(super::labels(&foreign_body), expect(&[]), "{sub} {foreign}");
        assert_eq!(foreign_body, missing_body, "{sub} {foreign}");
        assert_eq!(foreign_cost, missing_cost, "{sub} {foreign}");
    }
    // The same filters inside the caller's view do match.
    assert_eq!(
        labels_for(&w, "alice", json!({ "tenant": "acme" })).await,
        expect(&[9, 2, 1])
    );
    assert_eq!(
        labels_for(&w, "alice", json!({ "partner": "reseller-one" })).await,
        expect(&[9, 2, 1]),
        "only the partner's events the tenant admin may see"
    );
    assert_eq!(
        labels_for(&w, "bob", json!({ "tenant": "acme" })).await,
        expect(&[9, 2, 1])
    );
    assert_eq!(
        labels_for(&w, "bob", json!({ "partner": "reseller-one" })).await,
        expect(&[9, 6, 2, 1])
    );
}

#[tokio::test]
async fn scope_follows_the_database_at_once() {
    let w = world().await;
    let mut conn = w.app.db.connect().await;
    assert_eq!(
        labels_for(&w, "alice", json!(null)).await,
        expect(&[9, 2, 1])
    );
    // Demoted to member: nothing on the next request, with the same token.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE memberships SET role = 'member'
              WHERE user_id = (SELECT id FROM users WHERE authentik_subject = 'alice')",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(labels_for(&w, "alice", json!(null)).await, expect(&[]));
    // globex moves to reseller-one: bob now sees its events (the tenant's current partner
    // decides), not reseller-two's own.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE tenants SET partner_id = (SELECT id FROM partners WHERE slug = 'reseller-one')
              WHERE slug = 'globex'",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(
        labels_for(&w, "bob", json!(null)).await,
        expect(&[9, 6, 4, 3, 2, 1])
    );
    assert_eq!(count(&mut conn, "audit_events").await, 9);
}
