//! Every lifecycle mutation refuses before anything is written or called: denied callers
//! (a plain member, another tenant's owner, nobody), malformed or foreign member ids, and an
//! operator impersonating an admin for the actions that must stay the user's own.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::lifecycle::{LOGOUT, REMOVE, RESET, RESUME, ROLE, SUSPEND, id_of, of};
use super::{RETRY, create, settled, upstream_calls, world};
use crate::impersonation::start_as_root;
use crate::provisioning::Stack;
use crate::support::tables::{count, fingerprint};

/// (document, audit action, whether the input takes a role).
const MUTATIONS: [(&str, &str, bool); 7] = [
    (SUSPEND, "member.suspend", false),
    (RESUME, "member.resume", false),
    (LOGOUT, "member.force_logout", false),
    (RESET, "member.reset_password", false),
    (REMOVE, "member.remove", false),
    (RETRY, "member.retry", false),
    (ROLE, "member.change_role", true),
];

fn vars(member: &Value, with_role: bool) -> Value {
    let mut vars = of("acme", member);
    if with_role {
        vars["input"]["role"] = json!("ADMIN");
    }
    vars
}

#[tokio::test]
async fn every_lifecycle_mutation_refuses_before_any_upstream_call() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "sam@acme.example").await;
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    let sam = id_of(&w, "acme", "sam@acme.example").await;
    // A well-formed global id of another type.
    let tenant_id = json!(URL_SAFE_NO_PAD.encode(format!("Tenant:{}", w.id("acme"))));
    let calls = upstream_calls(&stack);
    let mut conn = w.db.connect().await;
    let jobs = count(&mut conn, "jobs").await;

    for (doc, action, with_role) in MUTATIONS {
        w.denied(Some("mo"), doc, vars(&sam, with_role), action, "FORBIDDEN")
            .await;
        w.denied(
            Some("olga"),
            doc,
            vars(&sam, with_role),
            action,
            "NOT_FOUND",
        )
        .await;
        w.denied(None, doc, vars(&sam, with_role), action, "UNAUTHENTICATED")
            .await;
        for bad in [json!("nope"), json!(""), tenant_id.clone()] {
            w.invalid("ann", doc, vars(&bad, with_role), action, "input.member")
                .await;
        }
    }
    // Give a wrongly queued job time to reach a fake.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        upstream_calls(&stack),
        calls,
        "no upstream call for a refused mutation"
    );
    assert_eq!(count(&mut conn, "jobs").await, jobs, "no job queued");
}

#[tokio::test]
async fn an_impersonator_can_neither_reset_a_password_nor_remove_a_member() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "sam@acme.example").await;
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    let sam = id_of(&w, "acme", "sam@acme.example").await;
    // root acts as ann, an admin of acme who may do both herself.
    let (token, _session) = start_as_root(&w, "ann", json!({})).await;
    let calls = upstream_calls(&stack);
    let mut conn = w.db.connect().await;

    for (doc, action) in [(RESET, "member.reset_password"), (REMOVE, "member.remove")] {
        let before = fingerprint(&mut conn).await;
        let denied = w.audit_rows(action, "denied").await;
        let body = w.graphql_as_with(&token, doc, of("acme", &sam)).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{action}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("impersonating"),
            "{body}"
        );
        assert_eq!(
            fingerprint(&mut conn).await,
            before,
            "{action}: nothing written"
        );
        assert_eq!(w.audit_rows(action, "denied").await, denied + 1);
        assert_eq!(
            count(
                &mut conn,
                &format!(
                    "audit_events WHERE action = '{action}' AND outcome = 'denied' \
                       AND actor_email = 'root@example.com' \
                       AND subject_email = 'ann@example.com' \
                       AND impersonation_session_id IS NOT NULL"
                )
            )
            .await,
            1,
            "{action}: attributed to the operator acting as ann"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(upstream_calls(&stack), calls, "no upstream call");

    // The same session may do what is not on the deny-list (the list is about these actions).
    let body = w.graphql_as_with(&token, SUSPEND, of("acme", &sam)).await;
    assert_eq!(
        body["data"]["suspendMember"]["member"]["status"], "SUSPENDED",
        "{body}"
    );
    settled(&w, "acme", "sam@acme.example", "SUSPENDED").await;
    // ann herself may reset the password.
    w.allowed("ann", RESET, of("acme", &sam), "member.reset_password")
        .await;
}
