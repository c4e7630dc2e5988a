//! Who may re-run provisioning and see its details; what a refused call leaves behind.

use serde_json::{Value, json};

use super::{Stack, app_with, create_tenant, settled};
use crate::support::app::first_error_code;
use crate::support::tables::count;
use crate::support::world::Arrange;
use crate::support::{Level, Role, Tenant, TestApp, World};

/// acme (partner `resell`, owner `alice`, staff `sam`), other (owner `olga`), operator `root`.
fn acme_and_other() -> Arrange {
    World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .tenant("other")
        .member("alice", "acme", Role::Owner)
        .member("olga", "other", Role::Owner)
        .staff("sam", "resell", Level::Member)
        .operator("root")
}

const RECONCILE: &str = r#"
mutation($tenant: String!) {
  reconcileTenant(tenant: $tenant) { queued }
}"#;

const RETRY: &str = r#"
mutation($tenant: String!, $step: ProvisioningStepName!) {
  retryProvisioningStep(tenant: $tenant, step: $step) { tenant { slug } }
}"#;

fn acme() -> Value {
    json!({ "tenant": "acme" })
}

fn acme_stripe() -> Value {
    json!({ "tenant": "acme", "step": "STRIPE_CUSTOMER" })
}

#[tokio::test]
async fn only_operators_and_the_partner_re_run_provisioning() {
    // No workers: what is queued stays queued, so the fingerprint shows every write.
    let app = acme_and_other()
        .build(TestApp::spawn_with(|c| super::quick_jobs(c, 0)).await)
        .await;
    // The tenant's own owner may look but not re-run; another tenant's member does not see it.
    app.denied(
        Some("alice"),
        RECONCILE,
        acme(),
        "tenant.reconcile",
        "FORBIDDEN",
    )
    .await;
    app.denied(
        Some("olga"),
        RECONCILE,
        acme(),
        "tenant.reconcile",
        "NOT_FOUND",
    )
    .await;
    app.denied(
        None,
        RECONCILE,
        acme(),
        "tenant.reconcile",
        "UNAUTHENTICATED",
    )
    .await;
    app.denied(
        Some("alice"),
        RETRY,
        acme_stripe(),
        "tenant.provisioning.retry",
        "FORBIDDEN",
    )
    .await;
    app.denied(
        Some("olga"),
        RETRY,
        acme_stripe(),
        "tenant.provisioning.retry",
        "NOT_FOUND",
    )
    .await;
    // The partner's staff may: a tenant from before provisioning gets its steps.
    let body = app
        .allowed("sam", RECONCILE, acme(), "tenant.reconcile")
        .await;
    assert_eq!(
        body["data"]["reconcileTenant"]["queued"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "jobs WHERE status = 'queued'").await, 4);
    // A second reconcile while everything is pending queues nothing more.
    let body = app
        .allowed("root", RECONCILE, acme(), "tenant.reconcile")
        .await;
    assert_eq!(body["data"]["reconcileTenant"]["queued"], json!([]));
    assert_eq!(count(&mut conn, "jobs").await, 4);
    // Retrying a step that is already pending is refused and writes nothing.
    app.invalid(
        "root",
        RETRY,
        acme_stripe(),
        "tenant.provisioning.retry",
        "step",
    )
    .await;
}

#[tokio::test]
async fn failure_details_are_for_operators_and_the_partner() {
    let stack = Stack::spawn().await;
    let mut app = app_with(&stack, 2).await;
    app.arrange(acme_and_other()).await;
    app.allowed("root", RECONCILE, acme(), "tenant.reconcile")
        .await;
    settled(&app, "acme").await;
    let query = r#"{ tenant(slug: "acme") { provisioning { steps { step status upstreamId } } } }"#;
    let as_alice = app.query("alice", query).await;
    assert_eq!(first_error_code(&as_alice), "FORBIDDEN", "{as_alice}");
    let plain = app
        .query(
            "alice",
            r#"{
              tenant(slug: "acme") {
                status
                provisioning { steps { step status } events(last: 3) { seq terminal } }
              }
            }"#,
        )
        .await;
    assert!(
        plain.get("errors").is_none(),
        "members see progress: {plain}"
    );
    assert_eq!(plain["data"]["tenant"]["status"], "ACTIVE");
    let as_sam = app.query("sam", query).await;
    assert!(as_sam.get("errors").is_none(), "{as_sam}");
    let as_olga = app.query("olga", query).await;
    assert_eq!(first_error_code(&as_olga), "NOT_FOUND");
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_runs() {
    let stack = Stack::spawn().await;
    let app = app_with(&stack, 1).await;
    create_tenant(&app, "acme", None).await;
    settled(&app, "acme").await;
    let body = app
        .query(
            "root",
            r#"{ tenant(slug: "acme") { provisioning { events(last: 0) { seq } } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "last");
    // An unknown step name is refused by the schema.
    let body = app
        .query(
            "root",
            r#"mutation { retryProvisioningStep(tenant: "acme", step: NOPE) { tenant { slug } } }"#,
        )
        .await;
    assert!(body.get("errors").is_some(), "{body}");
    // The steps that ran stay as they are (the periodic jobs queued at start aside).
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "jobs WHERE kind NOT IN ('retention', 'service_probe', 'mfa_snapshot')"
        )
        .await,
        4
    );
}
