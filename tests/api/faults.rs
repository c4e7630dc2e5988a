//! Faults: every backend of the app's database is terminated while requests run (as in a
//! PostgreSQL restart; the restart itself is not simulated). No request hangs, the ones hit
//! answer `SERVICE_UNAVAILABLE` (not `INTERNAL`), and the server serves again within 5 s by
//! itself.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;

use crate::support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_fail_fast_and_the_server_recovers() {
    let w = std::sync::Arc::new(World::new().operator("root").spawn().await);
    let query = "{ tenants { totalCount } partners { totalCount } }";
    let until = Instant::now() + Duration::from_secs(3);
    let load: Vec<_> = (0..6)
        .map(|_| {
            let w = std::sync::Arc::clone(&w);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let body = w.query("root", query).await;
                    let code = body["errors"][0]["extensions"]["code"]
                        .as_str()
                        .map(str::to_owned);
                    seen.push((code, started.elapsed()));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut admin = w.db.connect().await;
    let terminated = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(terminated > 0, "the app's connections were terminated");
    let terminated_at = Instant::now();
    for task in load {
        for (code, took) in task.await.unwrap() {
            assert!(took < Duration::from_secs(5), "a request took {took:?}");
            match code.as_deref() {
                None => {}
                Some("SERVICE_UNAVAILABLE") => {}
                Some(other) => panic!(
                    "a request answered {other}: {:?}",
                    crate::support::logs::lines_containing("internal error")
                ),
            }
        }
    }
    // Serves again within 5 s of the database being reachable.
    loop {
        let body = w.query("root", query).await;
        if body.get("errors").is_none() {
            break;
        }
        assert!(
            terminated_at.elapsed() < Duration::from_secs(5),
            "not recovered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
