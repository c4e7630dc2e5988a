//! `Tenant.mfaStatus` and `Tenant.storage` against the Authentik and oCIS fakes: batched
//! over a page of tenants with a bounded number of calls in flight (measured on the fakes),
//! cached briefly, flagged members, and a failing upstream that costs one tenant its field.

use std::time::Duration;

use axum::http::Method;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::{UPDATE, code};
use crate::provisioning::Stack;
use crate::support::fakes::FaultKind;
use crate::support::{Level, Role, Tenant, TestApp, World};

const PAGE: &str = r#"
{ tenants(first: 20) { nodes { slug mfaStatus { enrolled total } storage { usedBytes } } } }"#;

const STATUS: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    mfaStatus {
      enrolled total flagged
      members { member { user { email } } enrolled required flagged authenticators { type count } }
    }
    storage { quotaBytes usedBytes remainingBytes state }
  }
}"#;

const AUTHENTICATORS: &str = "/api/v3/authenticators/admin/all/";

async fn app(stack: &Stack, concurrency: usize) -> TestApp {
    let upstreams = stack.config();
    TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        c.security.upstream_concurrency = concurrency;
    })
    .await
}

async fn sql(w: &World, statement: String) {
    let mut conn = w.db.connect().await;
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// 20 tenants of 2 members each, every member with an Authentik pk (even ones with a TOTP
/// device) and every tenant with an oCIS space of 1000 bytes, `i` of them used.
async fn twenty_tenants(stack: &Stack, concurrency: usize) -> World {
    let w = World::new()
        .operator("root")
        .bulk(1, 20, 2)
        .build(app(stack, concurrency).await)
        .await;
    sql(
        &w,
        "UPDATE users SET authentik_user_pk = 1000 + n FROM
           (SELECT id, row_number() OVER (ORDER BY authentik_subject) AS n FROM users
             WHERE authentik_subject LIKE 'p-000-t-%') s
          WHERE users.id = s.id"
            .into(),
    )
    .await;
    for pk in (1001..=1040).filter(|pk| pk % 2 == 0) {
        stack.authentik.add_device(pk, "totp");
    }
    for i in 0..20 {
        let slug = format!("p-000-t-{i:02}");
        let drive = stack.ocis.state().add_drive(&slug, 1000, i);
        sql(
            &w,
            format!("UPDATE tenants SET ocis_space_id = '{drive}' WHERE slug = '{slug}'"),
        )
        .await;
    }
    w
}

fn nodes(body: &Value) -> Vec<Value> {
    body["data"]["tenants"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_page_of_tenants_makes_bounded_calls_with_bounded_concurrency() {
    let stack = Stack::spawn().await;
    let w = twenty_tenants(&stack, 3).await;
    // Slow upstreams, so calls overlap when they can.
    stack.authentik.delay_all(Duration::from_millis(30));
    stack.ocis.delay_all(Duration::from_millis(30));
    stack.authentik.clear_calls();
    stack.ocis.clear_calls();

    let body = w.query("root", PAGE).await;
    assert!(body.get("errors").is_none(), "{body}");
    let tenants = nodes(&body);
    assert_eq!(tenants.len(), 20);
    for t in &tenants {
        assert_eq!(t["mfaStatus"]["total"], 2, "{t}");
        assert_eq!(t["mfaStatus"]["enrolled"], 1, "{t}");
    }
    assert_eq!(tenants[7]["storage"]["usedBytes"], 7);

    // One call per member and one per space, never more; at most 3 in flight across both
    // upstreams, and more than one at a time (not one tenant after another).
    let authentik = stack.authentik.calls_to(Method::GET, AUTHENTICATORS).len();
    let ocis = stack.ocis.calls().len();
    assert_eq!(authentik, 40);
    assert_eq!(ocis, 20);
    let (a, o) = (stack.authentik.max_in_flight(), stack.ocis.max_in_flight());
    assert!(a <= 3 && o <= 3, "in flight: authentik {a}, oCIS {o}");
    assert!(a + o >= 2, "calls overlapped: authentik {a}, oCIS {o}");
    eprintln!(
        "calls: authentik {authentik}, oCIS {ocis}; most in flight: authentik {a}, oCIS {o} (bound 3)"
    );

    // Cached briefly: the same page again asks nothing upstream.
    let again = w.query("root", PAGE).await;
    assert_eq!(nodes(&again), tenants);
    assert_eq!(stack.authentik.calls().len(), 40);
    assert_eq!(stack.ocis.calls().len(), 20);
}

#[tokio::test]
async fn a_failing_upstream_costs_one_tenant_its_field_only() {
    let stack = Stack::spawn().await;
    let w = twenty_tenants(&stack, 4).await;
    let fault = FaultKind::Status {
        status: 503,
        retry_after: None,
    };
    stack
        .authentik
        .fail_next_on(1, fault.clone(), Method::GET, AUTHENTICATORS);
    stack
        .ocis
        .fail_next_on(1, fault, Method::GET, "/graph/v1.0/drives/");
    let body = w.query("root", PAGE).await;
    let errors = body["errors"].as_array().expect("two field errors");
    assert_eq!(errors.len(), 2, "{body}");
    let tenants = nodes(&body);
    assert_eq!(tenants.len(), 20, "the page itself survives");
    let mut failed = Vec::new();
    for e in errors {
        assert_eq!(e["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{e}");
        let path = e["path"].as_array().unwrap();
        let (i, field) = (
            path[2].as_u64().unwrap() as usize,
            path[3].as_str().unwrap(),
        );
        assert!(tenants[i][field].is_null());
        failed.push((i, field.to_owned()));
    }
    for (i, t) in tenants.iter().enumerate() {
        for field in ["mfaStatus", "storage"] {
            if !failed.contains(&(i, field.to_owned())) {
                assert!(!t[field].is_null(), "{i} {field}: {t}");
            }
        }
    }
}

async fn small_world(stack: &Stack) -> World {
    let w = World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .operator("root")
        .member("owner", "acme", Role::Owner)
        .member("ann", "acme", Role::Admin)
        .member("mo", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .build(app(stack, 4).await)
        .await;
    for (subject, pk) in [("owner", 1), ("ann", 2), ("mo", 3)] {
        sql(
            &w,
            format!(
                "UPDATE users SET authentik_user_pk = {pk} WHERE authentik_subject = '{subject}'"
            ),
        )
        .await;
    }
    w
}

#[tokio::test]
async fn members_the_policy_requires_mfa_of_are_flagged() {
    let stack = Stack::spawn().await;
    let w = small_world(&stack).await;
    stack.authentik.add_device(1, "totp");
    stack.authentik.add_device(1, "totp");
    stack.authentik.add_device(1, "webauthn");
    let vars = json!({ "input": { "tenant": "acme", "mfaMode": "REQUIRED_FOR_ADMINS" } });
    w.allowed("owner", UPDATE, vars, "security.update_policy")
        .await;

    let body = w.query_with("ann", STATUS, json!({ "slug": "acme" })).await;
    let status = &body["data"]["tenant"]["mfaStatus"];
    assert_eq!(
        (&status["enrolled"], &status["total"], &status["flagged"]),
        (&json!(1), &json!(3), &json!(1)),
        "{body}"
    );
    let by = |email: &str| {
        status["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["member"]["user"]["email"] == email)
            .unwrap()
            .clone()
    };
    let owner = by("owner@example.com");
    assert_eq!(owner["enrolled"], true);
    assert_eq!(
        owner["authenticators"],
        json!([
            { "type": "authentik_stages_authenticator_totp.device", "count": 2 },
            { "type": "authentik_stages_authenticator_webauthn.device", "count": 1 }
        ])
    );
    let ann = by("ann@example.com");
    assert_eq!(
        (&ann["required"], &ann["flagged"]),
        (&json!(true), &json!(true))
    );
    let mo = by("mo@example.com");
    assert_eq!(
        (&mo["required"], &mo["flagged"]),
        (&json!(false), &json!(false))
    );
    // No oCIS space yet: storage is null, without an error.
    assert!(body["data"]["tenant"]["storage"].is_null());
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn mfa_status_is_for_owners_and_admins_only_and_asks_nothing_otherwise() {
    let stack = Stack::spawn().await;
    let w = small_world(&stack).await;
    stack.authentik.clear_calls();
    for who in ["mo", "pstaff"] {
        let body = w.query_with(who, STATUS, json!({ "slug": "acme" })).await;
        assert_eq!(code(&body), "FORBIDDEN", "{who}: {body}");
        assert!(body["data"]["tenant"]["mfaStatus"].is_null());
    }
    assert!(
        stack.authentik.calls().is_empty(),
        "no upstream call when refused"
    );
}
