//! The soak of issue 21 (acceptance 4), `#[ignore]`d: run it with `bench/soak.sh` (see
//! `bench/README.md`, "Soak"). Sizes come from the environment:
//! - `SOAK_JOBS` (default 10,000): provisioning jobs (four steps per tenant) worked by
//!   replicas whose workers are aborted at random points; afterwards none is lost (every job
//!   `done`, every tenant `ACTIVE`) and none ran twice on the fakes (one upstream object per
//!   tenant and step, one `OK` event per step).
//! - `SOAK_SECS` (default 300): mixed load for that long clean, then as long with 1 % hostile
//!   requests; the ordinary requests' p99 of the two runs is compared (at most
//!   `SOAK_MAX_P99_RATIO`, default 2).
//!
//! Each prints one `SOAK {json}` line with its figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::provisioning::{Stack, quick_jobs};
use crate::support::tables::count;
use crate::support::{TestApp, World};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small xorshift: random enough for chaos timing, no dependency.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(42);
        Self(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const CREATE: &str = r#"mutation($input: CreateTenantInput!) {
  createTenant(input: $input) { tenant { slug } }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with bench/soak.sh"]
async fn soak_provisioning_jobs_survive_aborted_workers() {
    let jobs = env_or("SOAK_JOBS", 10_000);
    let tenants = jobs.div_ceil(4);
    let stack = Arc::new(Stack::spawn().await);
    let upstreams = stack.config();
    let api = TestApp::spawn_with(|c| {
        c.upstreams = upstreams.clone();
        c.limits.user = platform_api::http::limits::Rate::per_minute(1_000_000);
        c.limits.mutations = platform_api::http::limits::Rate::per_minute(1_000_000);
        // Jobs are queued with this many attempts: each abort costs one, and the chaos here
        // aborts far more often than crashes happen, so 8 could dead-letter an unlucky job.
        c.jobs.max_attempts = 100;
    })
    .await;
    let w = Arc::new(World::new().operator("root").build(api).await);
    let started = Instant::now();
    // Queue the work: `tenants` createTenant mutations, 8 at a time.
    let next = Arc::new(AtomicU64::new(0));
    let creators: Vec<_> = (0..8)
        .map(|_| {
            let (w, next) = (Arc::clone(&w), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= tenants {
                        break;
                    }
                    let input = json!({
                        "slug": format!("soak-{i:05}"),
                        "name": format!("Soak {i}"),
                        "primaryDomain": format!("soak-{i:05}.example.com"),
                    });
                    let body = w
                        .query_with("root", CREATE, json!({ "input": input }))
                        .await;
                    assert!(body.get("errors").is_none(), "{body}");
                }
            })
        })
        .collect();
    for c in creators {
        c.await.unwrap();
    }
    let queued_in = started.elapsed();
    eprintln!("soak: {tenants} tenants queued in {queued_in:?}");
    let mut conn = w.db.connect().await;
    let total = count(&mut conn, "jobs WHERE kind = 'provisioning_step'").await;
    assert_eq!(total as u64, tenants * 4, "four step jobs per tenant");
    // Chaos: two replicas with 8 workers each; every 0.2-2 s one of them has its workers
    // aborted mid-whatever (as a crash would) and is replaced.
    let mut rng = Rng::seeded();
    let replica = |upstreams: platform_api::upstream::UpstreamsConfig| {
        let w = Arc::clone(&w);
        async move {
            w.spawn_sibling(move |c| {
                c.upstreams = upstreams;
                quick_jobs(c, 8);
            })
            .await
        }
    };
    let mut replicas = vec![
        replica(upstreams.clone()).await,
        replica(upstreams.clone()).await,
    ];
    let mut aborts = 0u64;
    let chaos_until = Instant::now() + Duration::from_secs(env_or("SOAK_CHAOS_SECS", 600));
    let remaining = "jobs WHERE kind = 'provisioning_step' AND status <> 'done'";
    let mut said = Instant::now();
    while count(&mut conn, remaining).await > 0 && Instant::now() < chaos_until {
        if said.elapsed() > Duration::from_secs(10) {
            said = Instant::now();
            eprintln!(
                "soak: {} jobs left after {aborts} aborts, {:?}",
                count(&mut conn, remaining).await,
                started.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(200 + rng.below(1800))).await;
        let victim = rng.below(2) as usize;
        if let Some(workers) = replicas[victim].state.workers.lock().await.as_mut() {
            workers.abort();
        }
        aborts += 1;
        replicas[victim] = replica(upstreams.clone()).await;
    }
    // Then no more aborts: whatever is left finishes (expired leases are taken over). How
    // long that takes depends on the machine, so the bound is on progress, not on the total:
    // a queue that finishes nothing for two minutes has lost its jobs.
    let mut left = count(&mut conn, remaining).await;
    let mut progressed = Instant::now();
    while left > 0 {
        if progressed.elapsed() >= Duration::from_secs(120) {
            let why = unfinished(&mut conn).await;
            panic!("no job finished for two minutes; jobs left: {left}\n{why}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now_left = count(&mut conn, remaining).await;
        if now_left < left {
            progressed = Instant::now();
        }
        left = now_left;
    }
    let took = started.elapsed();
    let lost = count(
        &mut conn,
        "jobs WHERE kind = 'provisioning_step' AND status <> 'done'",
    )
    .await
        + count(&mut conn, "tenants WHERE status <> 'active'").await;
    let twice_events = count(
        &mut conn,
        "(SELECT 1 FROM provisioning_events WHERE status = 'ok' AND step IS NOT NULL
           GROUP BY tenant_id, step HAVING count(*) > 1) AS twice",
    )
    .await;
    // Nothing dead-lettered either, of any kind (the domains area's jobs run beside the steps).
    let dead = count(&mut conn, "jobs WHERE status = 'dead'").await;
    let attempts_over_one = count(
        &mut conn,
        "jobs WHERE kind = 'provisioning_step' AND attempts > 1",
    )
    .await;
    let (groups, domains, drives, customers) = (
        stack.authentik.state().groups.len() as u64,
        stack.stalwart.state().domains.len() as u64,
        stack.ocis.state().drives.len() as u64,
        stack
            .stripe
            .state()
            .customers
            .values()
            .filter(|c| c.get("deleted").is_none())
            .count() as u64,
    );
    let twice_upstream = [groups, domains, drives, customers]
        .iter()
        .map(|n| n.saturating_sub(tenants))
        .sum::<u64>();
    let missing_upstream = [groups, domains, drives, customers]
        .iter()
        .map(|n| tenants.saturating_sub(*n))
        .sum::<u64>();
    let report = json!({
        "soak": "provisioning",
        "jobs": tenants * 4,
        "tenants": tenants,
        "worker_aborts": aborts,
        "jobs_retried_after_an_abort": attempts_over_one,
        "lost": lost,
        "dead_jobs": dead,
        "ran_twice_events": twice_events,
        "ran_twice_upstream_objects": twice_upstream,
        "missing_upstream_objects": missing_upstream,
        "queue_secs": queued_in.as_secs_f64(),
        "total_secs": took.as_secs_f64(),
    });
    println!("SOAK {report}");
    assert_eq!(lost, 0, "{report}");
    assert_eq!(dead, 0, "{report}");
    assert_eq!(twice_events, 0, "{report}");
    assert_eq!(twice_upstream, 0, "{report}");
    assert_eq!(missing_upstream, 0, "{report}");
    assert!(aborts > 0, "{report}");
    drop(replicas);
}

/// What the unfinished jobs look like (status, attempts, lease, last error), grouped, and
/// the database sessions that are not idle: what a stalled queue is stuck on.
async fn unfinished(conn: &mut diesel_async::AsyncPgConnection) -> String {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let jobs: Vec<Line> = diesel::sql_query(
        "SELECT concat_ws(' | ', status, 'attempts ' || attempts, 'leased ' || (locked_until IS NOT NULL),
                          'lease over ' || (locked_until < now()), 'due ' || (run_at <= now()),
                          CASE WHEN status = 'queued' THEN 'due in ' || round(extract(epoch FROM run_at - now())) END,
                          left(last_error, 160)) AS line,
                count(*) AS n
           FROM jobs WHERE status <> 'done'
          GROUP BY 1 ORDER BY 2 DESC LIMIT 30",
    )
    .load(conn)
    .await
    .unwrap_or_default();
    let sessions: Vec<Line> = diesel::sql_query(
        "SELECT concat_ws(' | ', state, wait_event_type, wait_event, left(query, 120)) AS line,
                count(*) AS n
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
          GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
    )
    .load(conn)
    .await
    .unwrap_or_default();
    let mut out = String::from("unfinished jobs (any kind):\n");
    for l in jobs {
        out.push_str(&format!("  {:>6}  {}\n", l.n, l.line));
    }
    out.push_str("sessions:\n");
    for l in sessions {
        out.push_str(&format!("  {:>6}  {}\n", l.n, l.line));
    }
    out
}

/// One ordinary request of the mix, as the operator.
fn ordinary(i: u64) -> &'static str {
    match i % 4 {
        0 => r#"{ tenant(slug: "p-000-t-00") { name status } }"#,
        1 => "{ tenants(first: 20) { totalCount nodes { slug name } } }",
        2 => "{ me { user { email } } }",
        _ => "{ partners(first: 5) { nodes { name } } }",
    }
}

/// The hostile kinds of issue 21 (findings 1, 3, 4, 5, 6, 7), in turn.
fn hostile(i: u64, client: &reqwest::Client, w: &World, token: &str) -> reqwest::RequestBuilder {
    let post = client.post(w.url("/graphql")).bearer_auth(token);
    match i % 6 {
        0 => post.json(&json!({ "query": bomb(40) })),
        1 => post.json(&json!({ "query": format!("{{ {} }}", (0..1000).map(|n| format!("a{n}: me {{ user {{ email }} }}")).collect::<Vec<_>>().join(" ")) })),
        2 => post.json(&json!({ "query": "query($s: String!) { tenant(slug: $s) { name } }", "variables": { "s": "a\u{0}b" } })),
        3 => post.json(&json!({ "query": "query A { apiVersion } query B { apiVersion }" })),
        4 => post.json(&json!([["{ apiVersion }"]])),
        _ => post
            .header("authorization", "Bearer x")
            .json(&json!({ "query": "{ apiVersion }" })),
    }
}

struct Phase {
    p50: Duration,
    p99: Duration,
    ordinary: usize,
    hostile: usize,
    failed: usize,
    failures: std::collections::BTreeMap<String, usize>,
}

/// `secs` of requests at `rate` per second on an open-loop schedule (latency measured from
/// each request's intended send time); every `hostile_every`-th is hostile (0: none).
async fn run_phase(w: &Arc<World>, rate: u64, secs: u64, hostile_every: u64) -> Phase {
    let token = w.token("root");
    let client = reqwest::Client::new();
    let start = tokio::time::Instant::now();
    let n = rate * secs;
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
        let is_hostile = hostile_every > 0 && i % hostile_every == hostile_every - 1;
        let request = if is_hostile {
            hostile(i / hostile_every, &client, w, &token)
        } else {
            client
                .post(w.url("/graphql"))
                .bearer_auth(&token)
                .json(&json!({ "query": ordinary(i) }))
        };
        tasks.push(tokio::spawn(async move {
            let r = request.send().await;
            let failure = match r {
                Ok(r) => {
                    let status = r.status();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    (status != 200 || body.get("errors").is_some())
                        .then(|| format!("{status} {}", body["errors"][0]["extensions"]["code"]))
                }
                Err(e) => Some(e.to_string()),
            };
            (is_hostile, failure, due.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let (mut hostile_n, mut failed) = (0, 0);
    let mut failures = std::collections::BTreeMap::<String, usize>::new();
    for t in tasks {
        let (is_hostile, failure, took) = t.await.unwrap();
        if is_hostile {
            hostile_n += 1;
        } else {
            if let Some(failure) = failure {
                failed += 1;
                *failures.entry(failure).or_default() += 1;
            }
            latencies.push(took);
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Phase {
        p50: at(0.50),
        p99: at(0.99),
        ordinary: latencies.len(),
        hostile: hostile_n,
        failed,
        failures,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run with bench/soak.sh"]
async fn soak_mixed_load_p99_with_one_percent_hostile() {
    let secs = env_or("SOAK_SECS", 300);
    let rate = env_or("SOAK_RATE", 50);
    let max_ratio: f64 = std::env::var("SOAK_MAX_P99_RATIO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let app = TestApp::spawn_with(|c| {
        c.limits.user = platform_api::http::limits::Rate::per_minute(1_000_000);
    })
    .await;
    let w = Arc::new(
        World::new()
            .operator("root")
            .bulk(5, 10, 5)
            .build(app)
            .await,
    );
    // Warm up.
    let _ = run_phase(&w, rate, 2, 0).await;
    let clean = run_phase(&w, rate, secs, 0).await;
    let dirty = run_phase(&w, rate, secs, 100).await;
    let ratio = dirty.p99.as_secs_f64() / clean.p99.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = json!({
        "soak": "mixed",
        "secs_each": secs,
        "rate": rate,
        "clean": { "p50_ms": ms(clean.p50), "p99_ms": ms(clean.p99), "requests": clean.ordinary, "failed": clean.failed, "failures": clean.failures },
        "hostile": { "p50_ms": ms(dirty.p50), "p99_ms": ms(dirty.p99), "requests": dirty.ordinary, "hostile_requests": dirty.hostile, "failed": dirty.failed, "failures": dirty.failures },
        "p99_ratio": ratio,
    });
    println!("SOAK {report}");
    assert_eq!(clean.failed + dirty.failed, 0, "{report}");
    assert!(dirty.hostile > 0, "{report}");
    assert!(ratio <= max_ratio, "{report}");
}

/// `levels` fragments, each spreading the next one twice (finding 1).
fn bomb(levels: usize) -> String {
    let mut query = String::from("query Bomb { ...F1 }\n");
    for i in 1..levels {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ apiVersion }}\n"));
    query
}
