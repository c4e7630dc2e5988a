//! Each filter of `auditEvents` (as an operator, who sees every event), their combination,
//! and the validation of the filter and page arguments.

use serde_json::{Value, json};

use super::{QUERY, at, expect, labels_for, world};
use crate::support::app::first_error_code;
use crate::support::tables::count;

#[tokio::test]
async fn every_filter_narrows_the_list_newest_first() {
    let w = world().await;
    let cases: Vec<(Value, &[u32])> = vec![
        (json!(null), &[9, 8, 7, 6, 5, 4, 3, 2, 1]),
        (json!({}), &[9, 8, 7, 6, 5, 4, 3, 2, 1]),
        (json!({ "tenant": "acme" }), &[9, 2, 1]),
        (json!({ "tenant": "no-such-tenant" }), &[]),
        // The partner's own events and those of the tenants it owns.
        (json!({ "partner": "reseller-one" }), &[9, 6, 2, 1]),
        (json!({ "partner": "reseller-two" }), &[7, 4, 3]),
        (json!({ "partner": "no-such-partner" }), &[]),
        (json!({ "action": "partner.update" }), &[7, 6]),
        (json!({ "action": "partner" }), &[]),
        (json!({ "outcome": "DENIED" }), &[7, 2]),
        (json!({ "outcome": "FAILURE" }), &[4]),
        (json!({ "outcome": "SUCCESS" }), &[9, 8, 6, 5, 3, 1]),
        // Whole address, case-insensitive on both sides.
        (json!({ "actorEmail": "mallory@example.com" }), &[2]),
        (json!({ "actorEmail": "ROOT@Example.com" }), &[8, 5, 3, 1]),
        (json!({ "actorEmail": "root" }), &[]),
        // Since inclusive, before exclusive.
        (
            json!({ "since": at(3).to_rfc3339(), "before": at(6).to_rfc3339() }),
            &[5, 4, 3],
        ),
        (json!({ "since": at(8).to_rfc3339() }), &[9, 8]),
        (json!({ "before": at(2).to_rfc3339() }), &[1]),
        (
            json!({ "since": at(4).to_rfc3339(), "before": at(4).to_rfc3339() }),
            &[],
        ),
        // Combined filters all apply.
        (
            json!({ "partner": "reseller-one", "outcome": "DENIED" }),
            &[2],
        ),
        (
            json!({ "tenant": "acme", "actorEmail": "alice@example.com", "action": "membership.role_change" }),
            &[9],
        ),
        (json!({ "tenant": "acme", "partner": "reseller-two" }), &[]),
    ];
    for (filter, want) in cases {
        assert_eq!(
            labels_for(&w, "root", filter.clone()).await,
            expect(want),
            "{filter}"
        );
    }
}

#[tokio::test]
async fn search_matches_action_target_id_and_actor_email_case_insensitively() {
    let w = world().await;
    let cases: Vec<(&str, &[u32])> = vec![
        // In the action.
        ("ROLE_CH", &[9]),
        ("partner.", &[7, 6]),
        // In the target id.
        ("USER-7", &[4]),
        ("reseller-two", &[7]),
        // In the actor's email.
        ("globex.EXAMPLE", &[4]),
        ("mallory", &[2]),
        // LIKE metacharacters are literal: only e9's target id holds a `%`, and no event
        // holds `%_`.
        ("%", &[9]),
        ("%_", &[]),
        ("_50", &[9]),
        // A match never spans two fields (e4: action `membership.create`, target `user-7`).
        ("create user-7", &[]),
        // Surrounding blanks are ignored; a blank search is no search.
        ("  user-1 ", &[8]),
        ("   ", &[9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ];
    for (term, want) in cases {
        let got = labels_for(&w, "root", json!({ "search": term })).await;
        assert_eq!(got, expect(want), "search {term:?}");
    }
    // Combined with another filter.
    let got = labels_for(
        &w,
        "root",
        json!({ "search": "tenant.", "outcome": "DENIED" }),
    )
    .await;
    assert_eq!(got, expect(&[2]));
}

#[tokio::test]
async fn events_carry_every_field() {
    let w = world().await;
    let body = w
        .query(
            "root",
            r#"{
              auditEvents(first: 1, filter: { action: "tenant.create", tenant: "acme" }) {
                edges { node { at action outcome actorEmail targetType targetId tenantSlug
                               partnerSlug details requestId ip } }
              }
            }"#,
        )
        .await;
    let node = &body["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(
        *node,
        json!({
            "at": "2026-01-01T00:01:00+00:00",
            "action": "tenant.create",
            "outcome": "SUCCESS",
            "actorEmail": "root@example.com",
            "targetType": "tenant",
            "targetId": w.id("acme").to_string(),
            "tenantSlug": "acme",
            "partnerSlug": "reseller-one",
            "details": { "note": "seeded" },
            "requestId": "e1",
            "ip": "192.0.2.1",
        }),
        "{body}"
    );
}

/// Asserts `variables` are refused with BAD_USER_INPUT on `field`, costing no statement and
/// writing nothing.
async fn assert_refused(w: &crate::support::World, variables: Value, field: &str) {
    let token = w.token("root");
    let mut conn = w.app.db.connect().await;
    let rows = count(&mut conn, "audit_events").await;
    let before = w.app.statements();
    let body = w
        .app
        .graphql_as_with(&token, QUERY, variables.clone())
        .await;
    assert_eq!(
        first_error_code(&body),
        "BAD_USER_INPUT",
        "{variables}: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        w.app.statements() - before,
        0,
        "{variables}: refused before any SQL"
    );
    assert_eq!(
        count(&mut conn, "audit_events").await,
        rows,
        "nothing written"
    );
}

#[tokio::test]
async fn invalid_filters_and_page_arguments_are_bad_user_input() {
    let w = world().await;
    let since_after_before = json!({ "filter": {
        "since": at(5).to_rfc3339(), "before": at(4).to_rfc3339() } });
    assert_refused(&w, since_after_before, "filter.since").await;
    let long = "x".repeat(201);
    assert_refused(&w, json!({ "filter": { "search": long } }), "filter.search").await;
    assert_refused(
        &w,
        json!({ "filter": { "search": "a\nb" } }),
        "filter.search",
    )
    .await;
    assert_refused(&w, json!({ "first": 101 }), "first").await;
    assert_refused(&w, json!({ "last": -1 }), "last").await;
    assert_refused(&w, json!({ "first": 1, "last": 1 }), "last").await;
    assert_refused(&w, json!({ "after": "not-a-cursor" }), "after").await;
    assert_refused(&w, json!({ "last": 2, "before": "bm9wZQ" }), "before").await;
    // 200 characters are fine.
    let body = w
        .app
        .graphql_as_with(
            &w.token("root"),
            QUERY,
            json!({ "filter": { "search": "é".repeat(200) } }),
        )
        .await;
    assert_eq!(super::labels(&body), Vec::<String>::new());
}
