//! The job worker's throughput path: step jobs claimed in batches, started in the claiming
//! transaction and settled together; statements per job, and every job exactly once, on one
//! replica and on two.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::World;
use crate::support::tables::count;
use crate::support::ws::{Incoming, WsClient};

const STEPS: &str = "ARRAY['authentik_group','stalwart_domain','ocis_space','stripe_customer']";

/// Tenants `<tag>-<n>` with their four steps, the four `queued` events `createTenant` writes
/// and four held-back step jobs, in one statement (as bench/driver/src/provisioning.rs does).
pub async fn arrange(w: &World, tag: &str, tenants: usize) {
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "WITH t AS (INSERT INTO tenants (slug, name)
                    SELECT '{tag}-' || g, 'Bulk ' || g FROM generate_series(1, {tenants}) g
                    RETURNING id),
              s AS (INSERT INTO provisioning_steps (tenant_id, step)
                    SELECT t.id, st FROM t, unnest({STEPS}) st RETURNING tenant_id, step),
              e AS (INSERT INTO provisioning_events (tenant_id, seq, step, status, message)
                    SELECT t.id, o.n, o.step, 'pending', 'queued'
                      FROM t, unnest({STEPS}) WITH ORDINALITY AS o(step, n) RETURNING 1)
         INSERT INTO jobs (kind, payload, dedupe_key, max_attempts, run_at)
         SELECT 'provisioning_step', jsonb_build_object('tenant', tenant_id, 'step', step),
                'provisioning:' || tenant_id || ':' || step, 8, 'infinity' FROM s"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Makes the held-back jobs of `tag` due and wakes the workers.
pub async fn release(w: &World, tag: &str) {
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE jobs SET run_at = now() WHERE status = 'queued' AND run_at = 'infinity'
            AND payload->>'tenant' IN (SELECT id::text FROM tenants WHERE slug LIKE '{tag}-%')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("SELECT pg_notify('platform_api_events', 'jobs')")
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Waits until every job of `tag` is done (at most 60 s).
pub async fn until_done(w: &World, tag: &str, jobs: i64) {
    let mut conn = w.db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = format!(
        "jobs WHERE status = 'done' AND payload->>'tenant' IN
           (SELECT id::text FROM tenants WHERE slug LIKE '{tag}-%')"
    );
    while count(&mut conn, &done).await < jobs {
        assert!(Instant::now() < deadline, "jobs of {tag} not done in 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every job of `tag` ran exactly once: one attempt, one `running` and one outcome event
/// per step, one terminal event and an active tenant each.
pub async fn assert_exactly_once(w: &World, tag: &str, tenants: usize) {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        what: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = w.db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "WITH t AS (SELECT id, status FROM tenants WHERE slug LIKE '{tag}-%')
         SELECT 'attempts ' || attempts AS what, count(*) AS n FROM jobs
          WHERE payload->>'tenant' IN (SELECT id::text FROM t) GROUP BY attempts
         UNION ALL
         SELECT 'event ' || status || CASE WHEN terminal THEN ' terminal' ELSE '' END, count(*)
           FROM provisioning_events WHERE tenant_id IN (SELECT id FROM t)
          GROUP BY status, terminal
         UNION ALL
         SELECT 'tenant ' || status, count(*) FROM t GROUP BY status"
    ))
    .load(&mut conn)
    .await
    .unwrap();
    let got: BTreeMap<String, i64> = rows.into_iter().map(|r| (r.what, r.n)).collect();
    let n = i64::try_from(tenants).unwrap();
    let want: BTreeMap<String, i64> = [
        ("attempts 1", 4 * n),
        ("event pending", 4 * n),
        ("event running", 4 * n),
        ("event skipped", 4 * n),
        ("event ok terminal", n),
        ("tenant active", n),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want, "every job of {tag} once");
}

#[tokio::test]
async fn step_jobs_cost_at_most_six_statements_each() {
    let api = World::new().spawn().await;
    let tenants = 40;
    arrange(&api, "bulk", tenants).await;
    let workers = api
        .spawn_sibling(|c| {
            c.jobs.workers = 2;
            c.jobs.poll_interval = Duration::from_millis(200);
        })
        .await;
    let before = workers.statements();
    release(&api, "bulk").await;
    until_done(&api, "bulk", 4 * tenants as i64).await;
    let statements = workers.statements() - before;
    let jobs = 4 * tenants as u64;
    // Everything the worker replica sent, idle polls included.
    eprintln!(
        "{statements} statements for {jobs} jobs ({:.2} per job)",
        statements as f64 / jobs as f64
    );
    assert!(
        statements <= 6 * jobs,
        "{statements} statements for {jobs} jobs ({:.2} per job)",
        statements as f64 / jobs as f64
    );
    assert_exactly_once(&api, "bulk", tenants).await;
    let done = workers
        .state
        .metrics
        .jobs(platform_api::metrics::JobOutcome::Done);
    assert_eq!(done, jobs, "each counted once");
}

const PROGRESS: &str = r#"
subscription($slug: String!) {
  provisioningProgress(tenantSlug: $slug, afterSeq: 4) { seq step status terminal }
}"#;

/// Subscribes to every tenant of `tag` on `ws` (operation id = slug).
async fn follow(ws: &mut WsClient, tag: &str, tenants: usize) {
    for n in 1..=tenants {
        let slug = format!("{tag}-{n}");
        ws.send(json!({ "id": slug, "type": "subscribe",
                        "payload": { "query": PROGRESS, "variables": { "slug": slug } } }))
            .await;
    }
}

/// Every event of every followed tenant until each stream completes, by slug.
async fn collect(ws: &mut WsClient, tenants: usize) -> BTreeMap<String, Vec<Value>> {
    let mut events: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut complete = 0;
    while complete < tenants {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                let id = m["id"].as_str().unwrap().to_owned();
                events
                    .entry(id)
                    .or_default()
                    .push(m["payload"]["data"]["provisioningProgress"].clone());
            }
            Incoming::Json(m) if m["type"] == "complete" => complete += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    events
}

/// Each stream: the nine events after the four `queued` ones, numbered 5..=13, the last
/// one terminal.
fn assert_whole_runs(streams: &BTreeMap<String, Vec<Value>>, tenants: usize) {
    assert_eq!(streams.len(), tenants);
    for (slug, events) in streams {
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (5..=13).collect::<Vec<_>>(), "{slug}: {events:?}");
        assert_eq!(events.last().unwrap()["terminal"], true, "{slug}");
    }
}

/// Acceptance 3: two replicas on one database. First one API-only replica and one with
/// workers, then two with workers: every job runs exactly once, and subscribers on either
/// replica get every event.
#[tokio::test]
async fn two_replicas_run_every_job_once_and_both_replicas_subscribers_get_every_event() {
    let api = World::new().operator("root").spawn().await;
    let tenants = 12;

    // One API-only replica (no workers), one with workers. (Each replica signs its own
    // development tokens.)
    arrange(&api, "one", tenants).await;
    let worker = api
        .spawn_sibling(|c| {
            c.jobs.workers = 2;
            c.jobs.poll_interval = Duration::from_millis(200);
        })
        .await;
    let mut on_api = WsClient::connect_authenticated(api.addr, &api.token("root")).await;
    let mut on_worker = WsClient::connect_authenticated(worker.addr, &worker.token("root")).await;
    follow(&mut on_api, "one", tenants).await;
    follow(&mut on_worker, "one", tenants).await;
    release(&api, "one").await;
    let (seen_api, seen_worker) = tokio::join!(
        collect(&mut on_api, tenants),
        collect(&mut on_worker, tenants)
    );
    assert_whole_runs(&seen_api, tenants);
    assert_eq!(
        seen_api, seen_worker,
        "both replicas' subscribers saw the same"
    );
    until_done(&api, "one", 4 * tenants as i64).await;
    assert_exactly_once(&api, "one", tenants).await;

    // Both with workers.
    arrange(&api, "two", tenants).await;
    let second = api
        .spawn_sibling(|c| {
            c.jobs.workers = 2;
            c.jobs.poll_interval = Duration::from_millis(200);
        })
        .await;
    let mut on_second = WsClient::connect_authenticated(second.addr, &second.token("root")).await;
    follow(&mut on_worker, "two", tenants).await;
    follow(&mut on_second, "two", tenants).await;
    release(&api, "two").await;
    let (seen_first, seen_second) = tokio::join!(
        collect(&mut on_worker, tenants),
        collect(&mut on_second, tenants)
    );
    assert_whole_runs(&seen_first, tenants);
    assert_eq!(
        seen_first, seen_second,
        "both replicas' subscribers saw the same"
    );
    until_done(&api, "two", 4 * tenants as i64).await;
    assert_exactly_once(&api, "two", tenants).await;
    let done = |w: &World| {
        w.state
            .metrics
            .jobs(platform_api::metrics::JobOutcome::Done)
    };
    assert_eq!(
        done(&worker) + done(&second),
        8 * tenants as u64,
        "each job counted once, by one replica"
    );
}

#[tokio::test]
async fn a_batch_holds_at_most_one_job_of_another_kind() {
    use platform_api::domain::jobs::claim_batch;
    // No workers here: the test claims by hand.
    let api = World::new().spawn().await;
    arrange(&api, "mix", 3).await;
    release(&api, "mix").await;
    let mut conn = api.db.connect().await;
    diesel::sql_query(
        "INSERT INTO jobs (kind, payload, max_attempts, run_at)
         SELECT 'slow_other', jsonb_build_object('n', g), 3, now() - interval '1 minute' * g
           FROM generate_series(1, 5) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let lease = Duration::from_secs(60);
    let kinds = |jobs: &[platform_api::domain::jobs::ClaimedJob]| {
        let mut kinds = BTreeMap::<String, usize>::new();
        for job in jobs {
            *kinds.entry(job.kind.clone()).or_default() += 1;
        }
        kinds
    };
    let first = claim_batch(&mut conn, "w1", lease, 16).await.unwrap();
    assert_eq!(
        kinds(&first),
        BTreeMap::from([("provisioning_step".into(), 12), ("slow_other".into(), 1)]),
    );
    // The oldest of the others (its run_at is five minutes ago).
    let other = first.iter().find(|j| j.kind == "slow_other").unwrap();
    assert_eq!(other.payload["n"], 5);
    let second = claim_batch(&mut conn, "w2", lease, 16).await.unwrap();
    assert_eq!(
        kinds(&second),
        BTreeMap::from([("slow_other".into(), 1)]),
        "the steps are leased to w1; one other per batch"
    );
    assert_eq!(
        count(
            &mut conn,
            "jobs WHERE kind = 'slow_other' AND status = 'queued'"
        )
        .await,
        3
    );
}
