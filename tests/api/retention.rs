//! The retention job (`JOB_RETENTION_DAYS`, `EVENT_RETENTION_DAYS`): finished jobs, old
//! provisioning events (each tenant keeps its newest) and handled Stripe events are deleted
//! in batches through the job queue; nothing live or recent goes, a row another session holds
//! locked is skipped rather than waited for, and the job queues its next run.

use std::time::{Duration, Instant};

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use crate::support::tables::count;
use crate::support::{Tenant, World};

const OLD: &str = "now() - interval '40 days'";
const RECENT: &str = "now() - interval '2 days'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_finished_jobs_and_events_are_deleted_in_batches() {
    let w = World::new()
        .tenant(Tenant::new("acme"))
        .tenant(Tenant::new("solo"))
        .spawn()
        .await;
    let (acme, solo) = (w.id("acme"), w.id("solo"));
    let mut conn = w.db.connect().await;
    conn.batch_execute(&format!(
        "-- 2,500 old finished jobs: three batches of 1,000.
         INSERT INTO jobs (kind, status, max_attempts, updated_at)
              SELECT 'provisioning_step', CASE WHEN n % 2 = 0 THEN 'done' ELSE 'dead' END, 1, {OLD}
                FROM generate_series(1, 2500) AS n;
         INSERT INTO jobs (kind, status, max_attempts, updated_at, dedupe_key)
              VALUES ('keep', 'done', 1, {RECENT}, NULL),
                     ('keep', 'queued', 1, {OLD}, 'keep-queued');
         INSERT INTO provisioning_events (tenant_id, seq, status, at)
              VALUES ('{acme}', 1, 'ok', {OLD}), ('{acme}', 2, 'ok', {OLD}),
                     ('{acme}', 3, 'ok', {OLD}), ('{acme}', 4, 'ok', {RECENT}),
                     ('{solo}', 1, 'ok', {OLD}), ('{solo}', 2, 'ok', {OLD});
         INSERT INTO stripe_events (id, type, created, payload, status, processed_at, received_at)
              VALUES ('evt_old', 'invoice.paid', {OLD}, '{{}}', 'applied', {OLD}, {OLD}),
                     ('evt_recent', 'invoice.paid', {RECENT}, '{{}}', 'applied', {RECENT}, {RECENT}),
                     ('evt_waiting', 'invoice.paid', {OLD}, '{{}}', 'received', NULL, {OLD});"
    ))
    .await
    .unwrap();
    // Another session holds one old finished job locked all along: skipped, not waited for.
    let mut holder = w.db.connect().await;
    holder
        .batch_execute(
            "BEGIN; SELECT id FROM jobs WHERE status = 'done' AND kind = 'provisioning_step'
                    ORDER BY id LIMIT 1 FOR UPDATE",
        )
        .await
        .unwrap();
    // A replica with a worker queues the job at start, a minute ahead...
    let worker = w
        .spawn_sibling(|c| {
            c.jobs.workers = 1;
            c.jobs.poll_interval = Duration::from_millis(100);
            c.jobs.job_retention = Duration::from_secs(30 * 86_400);
            c.jobs.event_retention = Duration::from_secs(30 * 86_400);
        })
        .await;
    let queued = "jobs WHERE kind = 'retention' AND status = 'queued'
                   AND run_at > now() + interval '50 seconds'";
    assert_eq!(count(&mut conn, queued).await, 1);
    // ...and runs it when it falls due (brought forward here rather than waited for).
    diesel::sql_query("UPDATE jobs SET run_at = now() WHERE kind = 'retention'")
        .execute(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    while count(
        &mut conn,
        "jobs WHERE kind = 'retention' AND status = 'done'",
    )
    .await
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the retention job did not finish while a row was held locked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(&mut conn, "jobs WHERE kind = 'provisioning_step'").await,
        1,
        "every old finished job but the locked one"
    );
    assert_eq!(count(&mut conn, "jobs WHERE kind = 'keep'").await, 2);
    let events: Vec<(String, i32)> = {
        #[derive(diesel::QueryableByName)]
        struct E {
            #[diesel(sql_type = diesel::sql_types::Text)]
            slug: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            seq: i32,
        }
        diesel::sql_query(
            "SELECT t.slug, e.seq FROM provisioning_events e JOIN tenants t ON t.id = e.tenant_id
              ORDER BY t.slug, e.seq",
        )
        .load::<E>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.slug, e.seq))
        .collect()
    };
    assert_eq!(
        events,
        vec![("acme".into(), 4), ("solo".into(), 2)],
        "old events go, each tenant's newest stays"
    );
    assert_eq!(
        count(&mut conn, "stripe_events WHERE id = 'evt_old'").await,
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "stripe_events WHERE id IN ('evt_recent', 'evt_waiting')"
        )
        .await,
        2,
        "recent or unhandled Stripe events stay"
    );
    // The next run is queued an hour ahead, once.
    assert_eq!(
        count(
            &mut conn,
            "jobs WHERE kind = 'retention' AND status = 'queued'
                AND run_at > now() + interval '50 minutes'"
        )
        .await,
        1
    );
    holder.batch_execute("ROLLBACK").await.unwrap();
    drop(worker);
}
