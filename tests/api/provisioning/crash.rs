//! Crash safety: a worker dropped mid-step, a killed listener, a lost notification.

use std::time::{Duration, Instant};

use axum::http::Method;
use diesel::sql_types::{Integer, Text};
use diesel_async::RunQueryDsl;
use platform_api::events::LISTENER_NAME;

use super::{Stack, app_with, create_tenant, settled, step};
use crate::support::fakes::FaultKind;
use crate::support::tables::count;
use crate::support::{TestApp, World};

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_worker_dropped_mid_step_is_replaced_after_its_lease_and_the_step_runs_once() {
    let stack = Stack::spawn().await;
    // The group creation hangs long enough for the worker to be killed while waiting on it.
    stack.authentik.fail_next_on(
        1,
        FaultKind::Delay(Duration::from_secs(5)),
        Method::POST,
        "/api/v3/core/groups/",
    );
    let first = app_with(&stack, 1).await;
    create_tenant(&first, "phoenix", None).await;
    wait_until("the group creation to be in flight", || async {
        !stack
            .authentik
            .calls_to(Method::POST, "/api/v3/core/groups/")
            .is_empty()
    })
    .await;
    // Crash: the worker task is dropped mid-await; nothing settles, the lease stays.
    first.state.workers.lock().await.as_mut().unwrap().abort();
    let mut conn = first.db.connect().await;
    // The worker claimed the tenant's four step jobs as one batch: all four stay leased.
    assert_eq!(
        count(&mut conn, "jobs WHERE status = 'running' AND attempts = 1").await,
        4,
        "the jobs are still leased to the dead worker"
    );
    // Another replica picks it up once the lease expires.
    let second = first
        .spawn_sibling(|c| {
            c.upstreams = stack.config();
            super::quick_jobs(c, 1);
        })
        .await;
    let state = settled(&second, "phoenix").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    let group = step(&state, "AUTHENTIK_GROUP");
    assert_eq!(group["status"], "OK");
    assert_eq!(group["attempts"], 2, "the interrupted attempt counts");
    // Exactly one group upstream, and one OK event for the step.
    assert_eq!(stack.authentik.state().groups.len(), 1);
    let oks = state["provisioning"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "AUTHENTIK_GROUP" && e["status"] == "OK")
        .count();
    assert_eq!(oks, 1);
    assert_eq!(count(&mut conn, "jobs WHERE status = 'done'").await, 4);
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

async fn listener_pids(app: &TestApp) -> Vec<i32> {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
    )
    .bind::<Text, _>(LISTENER_NAME)
    .load::<Pid>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|p| p.pid)
    .collect()
}

#[tokio::test]
async fn a_killed_listener_comes_back_and_jobs_keep_running() {
    let stack = Stack::spawn().await;
    let app = app_with(&stack, 1).await;
    wait_until("the listener to connect", || async {
        listener_pids(&app).await.len() == 1
    })
    .await;
    let old = listener_pids(&app).await[0];
    let mut conn = app.db.connect().await;
    diesel::sql_query(format!("SELECT pg_terminate_backend({old})"))
        .execute(&mut conn)
        .await
        .unwrap();
    // Work queued right away runs, whether or not the listener is back yet.
    create_tenant(&app, "resilient", None).await;
    let state = settled(&app, "resilient").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    wait_until("a new listener", || async {
        let pids = listener_pids(&app).await;
        pids.len() == 1 && pids[0] != old
    })
    .await;
    // And notifications work again through the new listener.
    create_tenant(&app, "after", None).await;
    assert_eq!(settled(&app, "after").await["status"], "ACTIVE");
}

#[tokio::test]
async fn a_job_whose_notification_was_lost_runs_by_polling() {
    let stack = Stack::spawn().await;
    let mut app = app_with(&stack, 1).await;
    app.arrange(World::new().tenant("quiet")).await;
    let tenant = app.id("quiet");
    // The step and its job written straight to the tables, with no NOTIFY at all.
    let mut conn = app.db.connect().await;
    diesel::sql_query(format!(
        "INSERT INTO provisioning_steps (tenant_id, step) VALUES ('{tenant}', 'stripe_customer');
         "
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts)
         VALUES ('provisioning_step', '{{\"tenant\": \"{tenant}\", \"step\": \"stripe_customer\"}}', 'x', 3)"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let state = settled(&app, "quiet").await;
    assert_eq!(state["status"], "ACTIVE", "{state:#}");
    assert_eq!(step(&state, "STRIPE_CUSTOMER")["status"], "OK");
    assert_eq!(stack.stripe.state().live_customers(), 1);
}
