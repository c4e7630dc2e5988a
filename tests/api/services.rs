//! `systemStatus.services`: liveness probes of PostgreSQL and the upstreams, run by the
//! `service_probe` job against the loopback fakes — up, down, slow (timeout), recovered —
//! with the recorded history and uptime matching what the fakes did; one replica probes per
//! interval however many run; a service never probed says so.

use std::time::Duration;

use axum::http::Method;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::provisioning::{Stack, quick_jobs};
use crate::support::fakes::FaultKind;
use crate::support::tables::count;
use crate::support::{TestApp, World};

const STATUS: &str = r#"{
  systemStatus {
    services {
      name enabled up latencyMs checkedAt error uptime probeCount
      history(first: 10) { up latencyMs error }
    }
  }
}"#;

/// The probe path of each upstream fake.
const PROBES: [(&str, &str); 4] = [
    ("AUTHENTIK", "/api/v3/core/users/me/"),
    ("STALWART", "/jmap/session"),
    ("OCIS", "/graph/v1.0/me"),
    ("STRIPE", "/v1/balance"),
];

const TIMEOUT: Duration = Duration::from_millis(300);

async fn app_on(stack: &Stack, workers: usize) -> World {
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        quick_jobs(c, workers);
        c.jobs.service_probe_timeout = TIMEOUT;
        c.jobs.service_probe_interval = Duration::from_secs(3600);
    })
    .await;
    World::new().operator("root").build(app).await
}

/// The services by name.
async fn services(w: &World) -> Vec<Value> {
    let body = w.query("root", STATUS).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["systemStatus"]["services"]
        .as_array()
        .unwrap()
        .clone()
}

fn named<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter().find(|s| s["name"] == name).unwrap()
}

/// Makes the queued round due now, waits until its job is done, and checks that the round
/// recorded `expected` probes (older ones may have been pruned by the same round).
async fn round(w: &World, expected: i64) {
    let mut conn = w.db.connect().await;
    let done = "jobs WHERE kind = 'service_probe' AND status = 'done'";
    let before = count(&mut conn, done).await;
    #[derive(diesel::QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let first_new =
        diesel::sql_query("SELECT coalesce(max(id), 0)::int8 AS id FROM service_probes")
            .get_result::<Max>(&mut conn)
            .await
            .unwrap()
            .id;
    diesel::sql_query(
        "UPDATE jobs SET run_at = now() WHERE kind = 'service_probe' AND status = 'queued'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for _ in 0..800 {
        if count(&mut conn, done).await > before {
            // The round settles (and queues the next) in the transaction that recorded it.
            assert_eq!(
                count(&mut conn, &format!("service_probes WHERE id > {first_new}")).await,
                expected
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no probe round ran");
}

#[tokio::test]
async fn a_service_never_probed_says_so() {
    let stack = Stack::spawn().await;
    let w = app_on(&stack, 0).await;
    let all = services(&w).await;
    let names: Vec<&str> = all.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["POSTGRESQL", "AUTHENTIK", "STALWART", "OCIS", "STRIPE"]
    );
    for s in &all {
        assert_eq!(s["enabled"], true, "{s}");
        for field in ["up", "latencyMs", "checkedAt", "error", "uptime"] {
            assert_eq!(s[field], Value::Null, "{field} of {s}");
        }
        assert_eq!(s["probeCount"], 0);
        assert_eq!(s["history"], json!([]));
    }
    // Nothing was probed on request either.
    for (_, path) in PROBES {
        let fake_calls = stack.authentik.calls_to(Method::GET, path).len()
            + stack.stalwart.calls_to(Method::GET, path).len()
            + stack.ocis.calls_to(Method::GET, path).len()
            + stack.stripe.calls_to(Method::GET, path).len();
        assert_eq!(fake_calls, 0, "{path}");
    }
    // Disabled upstreams are reported as such.
    let bare = World::new().operator("root").spawn().await;
    let all = services(&bare).await;
    assert_eq!(named(&all, "POSTGRESQL")["enabled"], true);
    for (name, _) in PROBES {
        assert_eq!(named(&all, name)["enabled"], false, "{name}");
    }
}

#[tokio::test]
async fn up_down_slow_recovered_and_the_uptime_follows() {
    let stack = Stack::spawn().await;
    let w = app_on(&stack, 1).await;
    let fault_all = |kind: FaultKind| {
        let (_, a) = PROBES[0];
        stack
            .authentik
            .fail_next_on(usize::MAX, kind.clone(), Method::GET, a);
        stack
            .stalwart
            .fail_next_on(usize::MAX, kind.clone(), Method::GET, PROBES[1].1);
        stack
            .ocis
            .fail_next_on(usize::MAX, kind.clone(), Method::GET, PROBES[2].1);
        stack
            .stripe
            .fail_next_on(usize::MAX, kind, Method::GET, PROBES[3].1);
    };
    let clear_all = || {
        stack.authentik.clear_faults();
        stack.stalwart.clear_faults();
        stack.ocis.clear_faults();
        stack.stripe.clear_faults();
    };
    // Up.
    round(&w, 5).await;
    let all = services(&w).await;
    for s in &all {
        assert_eq!(s["up"], true, "{s}");
        assert_eq!(s["error"], Value::Null, "{s}");
        assert!(s["checkedAt"].is_string());
    }
    // Down: the upstreams answer 503; PostgreSQL stays up and `/readyz` does not care.
    fault_all(FaultKind::Status {
        status: 503,
        retry_after: None,
    });
    round(&w, 5).await;
    let all = services(&w).await;
    assert_eq!(named(&all, "POSTGRESQL")["up"], true);
    for (name, _) in PROBES {
        let s = named(&all, name);
        assert_eq!(s["up"], false, "{s}");
        assert!(s["error"].as_str().unwrap().contains("503"), "{s}");
    }
    let ready = w.app.client.get(w.app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "/readyz answers for PostgreSQL alone");
    // Slow: no answer within the timeout.
    clear_all();
    fault_all(FaultKind::Delay(Duration::from_secs(2)));
    round(&w, 5).await;
    let all = services(&w).await;
    for (name, _) in PROBES {
        let s = named(&all, name);
        assert_eq!(s["up"], false, "{s}");
        assert_eq!(s["error"], "no answer within 300 ms", "{s}");
        let latency = s["latencyMs"].as_i64().unwrap();
        assert!((300..2000).contains(&latency), "{s}");
    }
    // Recovered.
    clear_all();
    round(&w, 5).await;
    let all = services(&w).await;
    assert_eq!(named(&all, "POSTGRESQL")["uptime"], 1.0);
    assert_eq!(named(&all, "POSTGRESQL")["probeCount"], 4);
    for (name, path) in PROBES {
        let s = named(&all, name);
        assert_eq!(s["up"], true, "{s}");
        assert_eq!(s["uptime"], 0.5, "2 of 4 probes found {name} up");
        assert_eq!(s["probeCount"], 4);
        let history: Vec<bool> = s["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["up"].as_bool().unwrap())
            .collect();
        assert_eq!(history, [true, false, false, true], "newest first: {name}");
        // Exactly one call per round reached each fake: probes are never retried.
        let calls = match name {
            "AUTHENTIK" => stack.authentik.calls_to(Method::GET, path),
            "STALWART" => stack.stalwart.calls_to(Method::GET, path),
            "OCIS" => stack.ocis.calls_to(Method::GET, path),
            _ => stack.stripe.calls_to(Method::GET, path),
        };
        assert_eq!(calls.len(), 4, "{name}");
        // The 503 was the fault layer's answer; the slow call reached the fake late.
        assert_eq!(calls.iter().filter(|c| c.faulted).count(), 1, "{name}");
    }
    // Probes older than the history are forgotten at the next round.
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE service_probes SET at = at - interval '25 hours'")
        .execute(&mut conn)
        .await
        .unwrap();
    round(&w, 5).await;
    assert_eq!(count(&mut conn, "service_probes").await, 5);
    assert_eq!(named(&services(&w).await, "STRIPE")["uptime"], 1.0);
}

#[tokio::test]
async fn one_replica_probes_per_interval() {
    let interval = Duration::from_millis(300);
    let app = TestApp::spawn_with(|c| {
        quick_jobs(c, 2);
        c.jobs.service_probe_interval = interval;
    })
    .await;
    let w = World::new().operator("root").build(app).await;
    let _sibling = w
        .spawn_sibling(|c| {
            quick_jobs(c, 2);
            c.jobs.service_probe_interval = interval;
        })
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut conn = w.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Gap {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        ms: Option<f64>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let gap: Gap = diesel::sql_query(
        "SELECT min(ms) AS ms, count(*) AS n FROM (
           SELECT (extract(epoch FROM at - lag(at) OVER (ORDER BY at)) * 1000)::float8 AS ms
             FROM service_probes WHERE service = 'postgresql') g",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(gap.n >= 3, "rounds ran: {}", gap.n);
    assert!(gap.n <= 10, "not one round per replica: {}", gap.n);
    let min_gap = gap.ms.unwrap();
    assert!(
        min_gap >= interval.as_millis() as f64 * 0.9,
        "two rounds {min_gap} ms apart: both replicas probed"
    );
}
