//! Who may re-run provisioning and see its details; what a refused call leaves behind.

use serde_json::json;

use super::{Stack, app_with, create_tenant, settled};
use crate::support::app::first_error_code;
use crate::support::{TestApp, checks, seed};

/// acme (partner `resell`, member `alice`, staff `sam`), other (member `olga`).
async fn arrange(app: &TestApp) {
    let mut conn = app.db.connect().await;
    let partner = seed::partner(&mut conn, "resell").await;
    let acme = seed::tenant(&mut conn, "acme", Some(partner)).await;
    let other = seed::tenant(&mut conn, "other", None).await;
    let alice = seed::user(&mut conn, "alice", false).await;
    seed::membership(&mut conn, alice, acme, "owner", "active").await;
    let olga = seed::user(&mut conn, "olga", false).await;
    seed::membership(&mut conn, olga, other, "owner", "active").await;
    let sam = seed::user(&mut conn, "sam", false).await;
    seed::user(&mut conn, "root", true).await;
    seed::staff(&mut conn, sam, partner, "member").await;
}

const RECONCILE: &str = r#"mutation { reconcileTenant(tenant: "acme") { queued } }"#;
const RETRY: &str = r#"mutation { retryProvisioningStep(tenant: "acme", step: STRIPE_CUSTOMER) { tenant { slug } } }"#;

#[tokio::test]
async fn only_operators_and_the_partner_re_run_provisioning() {
    // No workers: what is queued stays queued, so the fingerprint shows every write.
    let app = TestApp::spawn_with(|c| super::quick_jobs(c, 0)).await;
    arrange(&app).await;
    // The tenant's own owner may look but not re-run; another tenant's member does not see it.
    checks::denied(
        &app,
        Some("alice"),
        RECONCILE,
        "tenant.reconcile",
        "FORBIDDEN",
    )
    .await;
    checks::denied(
        &app,
        Some("olga"),
        RECONCILE,
        "tenant.reconcile",
        "NOT_FOUND",
    )
    .await;
    checks::denied(&app, None, RECONCILE, "tenant.reconcile", "UNAUTHENTICATED").await;
    checks::denied(
        &app,
        Some("alice"),
        RETRY,
        "tenant.provisioning.retry",
        "FORBIDDEN",
    )
    .await;
    checks::denied(
        &app,
        Some("olga"),
        RETRY,
        "tenant.provisioning.retry",
        "NOT_FOUND",
    )
    .await;
    // The partner's staff may: a tenant from before provisioning gets its steps.
    let body = checks::allowed(&app, "sam", RECONCILE, "tenant.reconcile").await;
    assert_eq!(
        body["data"]["reconcileTenant"]["queued"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let mut conn = app.db.connect().await;
    assert_eq!(
        seed::count(&mut conn, "jobs WHERE status = 'queued'").await,
        4
    );
    // A second reconcile while everything is pending queues nothing more.
    let body = checks::allowed(&app, "root", RECONCILE, "tenant.reconcile").await;
    assert_eq!(body["data"]["reconcileTenant"]["queued"], json!([]));
    assert_eq!(seed::count(&mut conn, "jobs").await, 4);
    // Retrying a step that is already pending is refused and writes nothing.
    checks::invalid(&app, "root", RETRY, "tenant.provisioning.retry", "step").await;
}

#[tokio::test]
async fn failure_details_are_for_operators_and_the_partner() {
    let stack = Stack::spawn().await;
    let app = app_with(&stack, 2).await;
    arrange(&app).await;
    checks::allowed(&app, "root", RECONCILE, "tenant.reconcile").await;
    settled(&app, "acme").await;
    let query = r#"{ tenant(slug: "acme") { provisioning { steps { step status upstreamId } } } }"#;
    let as_alice = app.graphql_as(&checks::token(&app, "alice"), query).await;
    assert_eq!(first_error_code(&as_alice), "FORBIDDEN", "{as_alice}");
    let plain = app
        .graphql_as(
            &checks::token(&app, "alice"),
            r#"{ tenant(slug: "acme") { status provisioning { steps { step status } events(last: 3) { seq terminal } } } }"#,
        )
        .await;
    assert!(
        plain.get("errors").is_none(),
        "members see progress: {plain}"
    );
    assert_eq!(plain["data"]["tenant"]["status"], "ACTIVE");
    let as_sam = app.graphql_as(&checks::token(&app, "sam"), query).await;
    assert!(as_sam.get("errors").is_none(), "{as_sam}");
    let as_olga = app.graphql_as(&checks::token(&app, "olga"), query).await;
    assert_eq!(first_error_code(&as_olga), "NOT_FOUND");
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_runs() {
    let stack = Stack::spawn().await;
    let app = app_with(&stack, 1).await;
    create_tenant(&app, "acme", None).await;
    settled(&app, "acme").await;
    let token = checks::token(&app, "root");
    let body = app
        .graphql_as(
            &token,
            r#"{ tenant(slug: "acme") { provisioning { events(last: 0) { seq } } } }"#,
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "last");
    let body = checks::run(
        &app,
        Some("root"),
        r#"mutation { retryProvisioningStep(tenant: "acme", step: NOPE) { tenant { slug } } }"#,
    )
    .await;
    assert!(body.get("errors").is_some(), "{body}");
    // The steps that ran stay as they are.
    let mut conn = app.db.connect().await;
    assert_eq!(seed::count(&mut conn, "jobs").await, 4);
}
