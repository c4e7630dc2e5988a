//! Faults: every backend of the app's database is terminated while requests run, and a
//! private PostgreSQL is stopped and started again under load. No request hangs, the ones
//! hit answer `SERVICE_UNAVAILABLE` (not `INTERNAL`; 503 with `Retry-After` when nothing was
//! served), the server serves again within 5 s by itself, and the change-event listener
//! listens again.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, RunQueryDsl};

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
                let token = w.token("root");
                while Instant::now() < until {
                    let started = Instant::now();
                    let r = w
                        .client
                        .post(w.url("/graphql"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({ "query": query }))
                        .send()
                        .await
                        .unwrap();
                    // A request that got nothing but SERVICE_UNAVAILABLE is a 503 with
                    // Retry-After; anything else is a 200.
                    let status = r.status();
                    let retry = r.headers().contains_key("retry-after");
                    let body: serde_json::Value = r.json().await.unwrap();
                    assert!(status == 200 || (status == 503 && retry), "{status} {body}");
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

/// A PostgreSQL of its own for a restart test: the shared test cluster serves every other
/// test (and other checkouts), so it is never restarted.
async fn private_cluster(name: &str) -> (platform_api::db::embedded::EmbeddedPostgres, String) {
    use platform_api::db::embedded::{Durability, EmbeddedPostgres};
    let dir = std::env::temp_dir().join(format!("pa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pg = EmbeddedPostgres::start(dir.join("pg"), Durability::Fast)
        .await
        .expect("start a private cluster");
    pg.ensure_database("app").await.unwrap();
    let url = pg.url("app");
    platform_api::db::migrate::run_pending(&url).await.unwrap();
    (pg, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_database_fails_fast_and_the_listener_resubscribes() {
    use platform_api::db::embedded::{Durability, EmbeddedPostgres};
    use platform_api::events::Event;
    let (pg, url) = private_cluster("restart").await;
    let dir = pg.dir().to_path_buf();
    let scratch = dir.parent().unwrap().to_path_buf();
    let app = std::sync::Arc::new(
        crate::support::TestApp::spawn_with(|c| {
            c.database.url = Some(url.clone());
            c.database.pool_wait_timeout = Duration::from_secs(1);
        })
        .await,
    );
    let token = crate::support::Token::operator("ops")
        .groups(&["dezky-platform-admins"])
        .sign(&app);
    let mut events = app.state.events.subscribe();
    let query = serde_json::json!({ "query": "{ tenants { totalCount } }" });
    let ask = {
        let app = std::sync::Arc::clone(&app);
        let token = token.clone();
        move || {
            let app = std::sync::Arc::clone(&app);
            let token = token.clone();
            let query = query.clone();
            async move {
                let started = Instant::now();
                let r = app
                    .client
                    .post(app.url("/graphql"))
                    .bearer_auth(&token)
                    .json(&query)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap();
                (status, body, started.elapsed())
            }
        }
    };
    let (status, body, _) = ask().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["tenants"]["totalCount"], 0, "{body}");
    // Load while the server stops and comes back.
    let until = Instant::now() + Duration::from_secs(6);
    let load: Vec<_> = (0..4)
        .map(|_| {
            let ask = ask.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while Instant::now() < until {
                    seen.push(ask().await);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop().await.expect("stop the private cluster");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pg = EmbeddedPostgres::start(dir, Durability::Fast)
        .await
        .expect("start it again");
    let back = Instant::now();
    let mut unavailable = 0;
    for task in load {
        for (status, body, took) in task.await.unwrap() {
            assert!(took < Duration::from_secs(5), "a request took {took:?}");
            match body["errors"][0]["extensions"]["code"].as_str() {
                None => assert_eq!(status, 200),
                Some("SERVICE_UNAVAILABLE") => {
                    unavailable += 1;
                    assert_eq!(status, 503, "{body}");
                }
                Some(other) => panic!("a request answered {other}: {body}"),
            }
        }
    }
    assert!(unavailable > 0, "the restart was noticed by requests");
    // Serves again within 5 s of the database being back.
    loop {
        let (status, body, _) = ask().await;
        if status == 200 && body.get("errors").is_none() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not recovered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The listener is back too: it says so (resync), and a notification sent now arrives.
    let resynced = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Resync) = events.recv().await {
                break;
            }
        }
    })
    .await;
    assert!(resynced.is_ok(), "no resync after the restart");
    let mut admin = diesel_async::AsyncPgConnection::establish(&url)
        .await
        .unwrap();
    diesel::sql_query("NOTIFY platform_api_events, 'flags'")
        .execute(&mut admin)
        .await
        .unwrap();
    let notified = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::FlagsChanged) = events.recv().await {
                break;
            }
        }
    })
    .await;
    assert!(notified.is_ok(), "the listener did not LISTEN again");
    drop(admin);
    drop(ask);
    drop(app);
    let _ = pg.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_file(scratch.join("pg.lock"));
}
