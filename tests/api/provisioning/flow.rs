//! A run from `createTenant` to `ACTIVE`: every step against its fake, skips, retries with
//! backoff, dead letters and `reconcileTenant`; and what a rolled-back mutation leaves.

use axum::http::Method;
use futures_util::StreamExt;
use platform_api::metrics::JobOutcome;
use serde_json::json;

use super::{Stack, app_with, create_tenant, seqs, settled, step, with_root};
use crate::support::TestApp;
use crate::support::fakes::FaultKind;
use crate::support::tables::count;

#[tokio::test]
async fn a_new_tenant_is_provisioned_upstream_and_becomes_active() {
    let stack = Stack::spawn().await;
    let app = app_with(&stack, 2).await;
    let body = create_tenant(&app, "acme", Some("acme.example")).await;
    assert_eq!(body["data"]["createTenant"]["tenant"]["status"], "PENDING");
    let state = settled(&app, "acme").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    for name in [
        "AUTHENTIK_GROUP",
        "STALWART_DOMAIN",
        "OCIS_SPACE",
        "STRIPE_CUSTOMER",
    ] {
        let s = step(&state, name);
        assert_eq!(s["status"], "OK", "{name}: {state:#}");
        assert_eq!(s["attempts"], 1, "{name}");
        assert!(s["upstreamId"].is_string(), "{name}: {s}");
    }
    // Each upstream holds exactly the object the step reports.
    let group = step(&state, "AUTHENTIK_GROUP")["upstreamId"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        let authentik = stack.authentik.state();
        assert_eq!(authentik.groups.len(), 1);
        assert_eq!(authentik.groups[&group]["name"], "acme");
    }
    let domain = step(&state, "STALWART_DOMAIN")["upstreamId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        stack.stalwart.state().domains[&domain]["name"],
        "acme.example"
    );
    let drive = step(&state, "OCIS_SPACE")["upstreamId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.ocis.state().drives[&drive]["name"], "acme");
    assert_eq!(stack.stripe.state().live_customers(), 1);
    // The tenant row carries the handles too.
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            &format!("tenants WHERE slug = 'acme' AND authentik_group_id = '{group}' AND stalwart_domain_id = '{domain}' AND ocis_space_id = '{drive}'")
        )
        .await,
        1
    );
    // Events: 1..n without gaps; queued, started, done per step; one terminal event last.
    let seqs = seqs(&state);
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(seqs.len(), 4 * 3 + 1, "{state:#}");
    let events = state["provisioning"]["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (&last["step"], &last["status"], &last["terminal"]),
        (&json!(null), &json!("OK"), &json!(true))
    );
    assert_eq!(events.iter().filter(|e| e["terminal"] == true).count(), 1);
    // Every step job is done; none is left behind. (The primary domain's row has its own
    // ensure job, that one the domain checks that follow it, and retention runs apart.)
    let steps = "jobs WHERE kind = 'provisioning_step'";
    assert_eq!(
        count(&mut conn, &format!("{steps} AND status = 'done'")).await,
        4
    );
    assert_eq!(
        count(&mut conn, &format!("{steps} AND status <> 'done'")).await,
        0
    );
    assert!(app.state.metrics.jobs(JobOutcome::Done) >= 4);
}

#[tokio::test]
async fn disabled_upstreams_and_a_missing_domain_are_skipped_honestly() {
    // Only Stripe is configured; the tenant has no primary domain.
    let stack = Stack::spawn().await;
    let mut upstreams = stack.config();
    upstreams.authentik = None;
    upstreams.stalwart = None;
    upstreams.ocis = None;
    let app = with_root(
        TestApp::spawn_with(|c| {
            c.upstreams = upstreams;
            super::quick_jobs(c, 1);
        })
        .await,
    )
    .await;
    create_tenant(&app, "solo", None).await;
    let state = settled(&app, "solo").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    assert_eq!(step(&state, "STRIPE_CUSTOMER")["status"], "OK");
    for name in ["AUTHENTIK_GROUP", "STALWART_DOMAIN", "OCIS_SPACE"] {
        assert_eq!(step(&state, name)["status"], "SKIPPED", "{name}");
        assert_eq!(step(&state, name)["upstreamId"], json!(null), "{name}");
    }
    let messages: Vec<String> = state["provisioning"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "SKIPPED")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        messages.contains(&"Authentik is not configured".to_owned()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"the tenant has no primary domain".to_owned()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"oCIS is not configured".to_owned()),
        "{messages:?}"
    );
    // Nothing reached the fakes of disabled systems.
    assert!(stack.authentik.calls().is_empty());
    assert!(stack.stalwart.calls().is_empty());
    assert!(stack.ocis.calls().is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_until_ok() {
    let stack = Stack::spawn().await;
    // Stripe answers 503 twice, then works.
    stack.stripe.fail_status(2, 503);
    let app = app_with(&stack, 2).await;
    create_tenant(&app, "bumpy", None).await;
    let state = settled(&app, "bumpy").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    let stripe = step(&state, "STRIPE_CUSTOMER");
    assert_eq!(stripe["status"], "OK");
    assert_eq!(stripe["attempts"], 3, "two failures, then success");
    assert_eq!(
        stripe["lastError"],
        json!(null),
        "a success clears the error"
    );
    let retries: Vec<&str> = state["provisioning"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "STRIPE_CUSTOMER" && e["status"] == "PENDING")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    // "queued", then two "attempt n failed …; retrying in … ms".
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(
        retries[1].starts_with("attempt 1 failed") && retries[1].contains("retrying in"),
        "{retries:?}"
    );
    assert!(retries[2].starts_with("attempt 2 failed"), "{retries:?}");
    assert_eq!(
        stack.stripe.state().live_customers(),
        1,
        "retries create one customer"
    );
    assert_eq!(app.state.metrics.jobs(JobOutcome::Retried), 2);
    // The backoff really waited: the second attempt started after the first one's delay.
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(&mut conn, "jobs WHERE status = 'done' AND attempts = 3").await,
        1
    );
}

#[tokio::test]
async fn a_permanent_failure_ends_in_error_and_reconcile_recovers_it() {
    let stack = Stack::spawn().await;
    // oCIS is down for good (every call on the drives endpoint answers 503).
    stack.ocis.fail_next_on(
        usize::MAX,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        Method::POST,
        "/graph",
    );
    stack.ocis.fail_next_on(
        usize::MAX,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        Method::GET,
        "/graph",
    );
    let app = app_with(&stack, 2).await;
    create_tenant(&app, "stuck", None).await;
    let state = settled(&app, "stuck").await;
    assert_eq!(
        state["status"], "PENDING",
        "a failed step keeps the tenant pending"
    );
    let ocis = step(&state, "OCIS_SPACE");
    assert_eq!(ocis["status"], "ERROR", "{state:#}");
    assert_eq!(ocis["attempts"], 4, "every allowed attempt was made");
    assert!(
        ocis["lastError"].as_str().unwrap().starts_with("ocis: "),
        "the message says what failed: {ocis}"
    );
    let last = state["provisioning"]["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["status"], &last["terminal"]),
        (&json!("ERROR"), &json!(true))
    );
    assert_eq!(last["message"], "1 of 4 steps failed: ocis_space");
    let mut conn = app.db.connect().await;
    assert_eq!(
        count(&mut conn, "jobs WHERE status = 'dead'").await,
        1,
        "a dead letter"
    );
    assert!(stack.ocis.state().drives.is_empty());

    // The upstream recovers; reconcile re-runs the failed step (and re-checks the others).
    stack.ocis.clear_faults();
    let calls_before = stack.authentik.calls().len();
    let body = app
        .allowed(
            "root",
            r#"mutation($tenant: String!) {
              reconcileTenant(tenant: $tenant) { queued tenant { status } }
            }"#,
            json!({ "tenant": "stuck" }),
            "tenant.reconcile",
        )
        .await;
    assert_eq!(
        body["data"]["reconcileTenant"]["queued"],
        json!([
            "AUTHENTIK_GROUP",
            "STALWART_DOMAIN",
            "OCIS_SPACE",
            "STRIPE_CUSTOMER"
        ])
    );
    let state = super::wait_for(&app, "stuck", "the tenant to become active", |s| {
        s["status"] == "ACTIVE"
    })
    .await;
    assert_eq!(step(&state, "OCIS_SPACE")["status"], "OK");
    assert_eq!(stack.ocis.state().drives.len(), 1);
    // Re-checking a step that was fine finds its object and creates nothing new.
    assert!(
        stack.authentik.calls().len() > calls_before,
        "the group was looked up again"
    );
    assert_eq!(stack.authentik.state().groups.len(), 1);
    assert_eq!(stack.stripe.state().live_customers(), 1);
}

#[tokio::test]
async fn a_rolled_back_create_queues_no_job_and_sends_no_notification() {
    let app = with_root(TestApp::spawn_with(|c| super::quick_jobs(c, 1)).await).await;
    // Listen on the app's channel from outside, like another replica would.
    let (client, mut connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    client
        .batch_execute("LISTEN platform_api_events")
        .await
        .unwrap();
    // Make the audit insert — the last statement of the transaction — fail.
    client
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await
        .unwrap();
    let body = app
        .query_with(
            "root",
            super::CREATE_TENANT,
            json!({ "input": { "slug": "ghost", "name": "Ghost" } }),
        )
        .await;
    assert_eq!(
        crate::support::app::first_error_code(&body),
        "INTERNAL",
        "{body}"
    );
    let mut conn = app.db.connect().await;
    // (The periodic jobs queued at start aside.)
    for table in [
        "tenants",
        "jobs WHERE kind NOT IN ('retention', 'service_probe', 'mfa_snapshot')",
        "provisioning_steps",
        "provisioning_events",
    ] {
        assert_eq!(count(&mut conn, table).await, 0, "{table}");
    }
    // Notifications arrive in commit order: the marker sent after the failed mutation is
    // the first one, so the mutation sent none.
    client
        .batch_execute("SELECT pg_notify('platform_api_events', 'marker')")
        .await
        .unwrap();
    assert_eq!(rx.recv().await.as_deref(), Some("marker"));
}
