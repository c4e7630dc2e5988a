//! The real binary with no `DATABASE_URL`: it starts its own PostgreSQL, migrates, serves;
//! a second start reuses the cluster; after SIGKILL it starts again; SIGTERM closes
//! WebSockets with 1001 and stops the cluster, and under load with a request stuck on the
//! database it still exits 0 within 10 s. Two `migrate` processes started together both
//! succeed (the migration lock is polled, so `CREATE INDEX CONCURRENTLY` cannot deadlock).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::ws::{Incoming, WsClient};

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data_dir: &Path, run: u32) -> Server {
    start_with(data_dir, run, &[]).await
}

async fn start_with(data_dir: &Path, run: u32, env: &[(&str, &str)]) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = data_dir.with_extension(format!("run{run}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", data_dir)
        .env("BIND_ADDR", addr.to_string())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn platform-api");
    let server = Server { child, addr, log };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await
            && r.status() == 200
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "not ready in 90 s:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Server {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn api_version(&self) -> Value {
        let response = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.addr))
            .json(&json!({ "query": "{ apiVersion schemaVersion }" }))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    fn dev_token(&self, data_dir: &Path, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
            .arg("dev-token")
            .args(args)
            .env_remove("DATABASE_URL")
            .env("DATA_DIR", data_dir)
            .env("BIND_ADDR", self.addr.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    async fn graphql(&self, token: &str, query: &str) -> Value {
        let response = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.addr))
            .bearer_auth(token)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "did not exit:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn cluster_running(data_dir: &Path) -> bool {
    data_dir.join("postgres/postmaster.pid").exists()
}

#[tokio::test]
async fn zero_config_start_reuse_crash_and_graceful_stop() {
    let data_dir = std::env::temp_dir().join(format!(
        "platform-api-bin-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));

    // First start: initialises the cluster, migrates, serves.
    let mut first = start(&data_dir, 1).await;
    let body = first.api_version().await;
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );
    assert!(body["data"]["schemaVersion"].is_string(), "{body}");
    assert!(
        first
            .logs()
            .contains("initialising the embedded PostgreSQL cluster")
    );

    // SIGKILL: no cleanup runs; the cluster is left running.
    first.child.kill().unwrap();
    first.wait_exit().await;
    assert!(cluster_running(&data_dir));

    // Second start reuses the running cluster, with the data of the first.
    let mut second = start(&data_dir, 2).await;
    assert_eq!(
        second.api_version().await["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION")
    );
    let logs = second.logs();
    assert!(
        logs.contains("reusing the running embedded PostgreSQL"),
        "{logs}"
    );
    assert!(!logs.contains("initialising"), "no second initdb");

    // SIGTERM: open sockets get 1001, the process exits 0, and the cluster stops.
    // `dev-token` with the same settings gives a token this server accepts.
    let token = second.dev_token(
        &data_dir,
        &[
            "--sub",
            "alice",
            "--aud",
            "dezky-portal",
            "--email",
            "alice@example.com",
        ],
    );
    let me = second
        .graphql(&token, "{ me { user { email } audience } }")
        .await;
    assert_eq!(
        me["data"]["me"]["user"]["email"], "alice@example.com",
        "{me}"
    );
    assert_eq!(me["data"]["me"]["audience"], "PORTAL");
    let mut ws = WsClient::connect_authenticated(second.addr, &token).await;
    second.signal("-TERM");
    match ws.next().await {
        Incoming::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    assert!(second.wait_exit().await.success(), "{}", second.logs());
    assert!(second.logs().contains("embedded PostgreSQL stopped"));
    assert!(!cluster_running(&data_dir));

    // Logs are JSON lines, and request lines carry the request id.
    let logs = second.logs();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
    assert!(
        logs.lines()
            .any(|l| l.contains("request finished") && l.contains("\"request_id\"")),
        "{logs}"
    );

    // A stopped cluster starts again without a new initdb.
    let mut third = start(&data_dir, 3).await;
    assert_eq!(
        third.api_version().await["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION")
    );
    assert!(!third.logs().contains("initialising"));

    // A crash of the whole machine: server and postmaster die with SIGKILL, leaving a stale
    // postmaster.pid behind. The next start recovers.
    let pid_file = data_dir.join("postgres/postmaster.pid");
    let postmaster = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    third.child.kill().unwrap();
    third.wait_exit().await;
    assert!(
        Command::new("kill")
            .args(["-KILL", &postmaster])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{postmaster}")).exists() {
        assert!(Instant::now() < deadline, "postmaster did not die");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pid_file.exists(), "a stale pid file is left behind");
    let mut fourth = start(&data_dir, 4).await;
    assert_eq!(
        fourth.api_version().await["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION")
    );

    // SIGINT stops it like SIGTERM.
    fourth.signal("-INT");
    assert!(fourth.wait_exit().await.success(), "{}", fourth.logs());
    assert!(!cluster_running(&data_dir));

    let _ = std::fs::remove_dir_all(&data_dir);
    for run in 1..=4 {
        let _ = std::fs::remove_file(data_dir.with_extension(format!("run{run}.log")));
    }
    let _ = std::fs::remove_file(data_dir.join("postgres").with_extension("lock"));
}

#[tokio::test]
async fn migrate_subcommand_applies_every_migration_once() {
    use diesel_async::RunQueryDsl;
    let db = crate::support::postgres::TestDb::create_empty().await;
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_platform-api"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("applied migration"));
    let mut conn = db.connect().await;
    let tenants = diesel::sql_query("SELECT 1 FROM tenants")
        .execute(&mut conn)
        .await;
    assert!(tenants.is_ok(), "tables exist after migrate");
    let second = run();
    assert!(second.status.success());
    assert!(
        !String::from_utf8_lossy(&second.stderr).contains("applied migration"),
        "nothing left to apply"
    );
}

#[test]
fn production_refuses_to_start_with_the_development_issuer() {
    let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .env("APP_ENV", "production")
        .env_remove("AUTH_ISSUERS")
        .env("DATABASE_URL", "postgres://unused@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTH_ISSUERS"));
    let token = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .args(["dev-token", "--sub", "x"])
        .env("APP_ENV", "production")
        .env("AUTH_ISSUERS", "https://sso.example/application/o/portal/")
        .output()
        .unwrap();
    assert!(
        !token.status.success(),
        "no development tokens in production"
    );
    assert!(token.stdout.is_empty());
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .env("GRAPHQL_MAX_DEPTH", "deep")
        .env("DATABASE_URL", "postgres://unused@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GRAPHQL_MAX_DEPTH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_with_a_stuck_request_exits_0_within_10_s() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let data_dir = std::env::temp_dir().join(format!(
        "platform-api-bin-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    // The stuck request would wait a minute: only the shutdown grace can end it.
    let mut server = start_with(
        &data_dir,
        1,
        &[
            ("STATEMENT_TIMEOUT_MS", "60000"),
            ("REQUEST_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let token = server.dev_token(
        &data_dir,
        &["--sub", "alice", "--email", "alice@example.com"],
    );
    let me = server.graphql(&token, "{ me { user { email } } }").await;
    assert_eq!(
        me["data"]["me"]["user"]["email"], "alice@example.com",
        "{me}"
    );
    let socket_dir = data_dir.join("postgres").canonicalize().unwrap();
    let url = format!(
        "postgres://postgres@/platform_api?host={}",
        socket_dir.to_string_lossy().replace('/', "%2F")
    );
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    admin
        .batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let addr = server.addr;
    let stuck = {
        let token = token.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("http://{addr}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": "{ me { user { email } } }" }))
                .send()
                .await
        })
    };
    // Ordinary load and fragment bombs meanwhile.
    let until = Instant::now() + Duration::from_secs(3);
    let bomb = {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..40 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        q.push_str("fragment F40 on Query { apiVersion }\n");
        q
    };
    let load: Vec<_> = (0..3)
        .map(|n| {
            let query = if n == 0 {
                bomb.clone()
            } else {
                "{ apiVersion }".into()
            };
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut served = 0;
                while Instant::now() < until {
                    match client
                        .post(format!("http://{addr}/graphql"))
                        .json(&json!({ "query": query }))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() || r.status() == 400 => served += 1,
                        _ => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                served
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    server.signal("-TERM");
    let status = server.wait_exit().await;
    let took = started.elapsed();
    assert!(status.success(), "exit {status:?}:\n{}", server.logs());
    // Drained within 10 s of the signal: from "shutdown requested" to "stopped" (the pool
    // closed); the embedded cluster's own shutdown checkpoint follows.
    let at = |message: &str| -> chrono::DateTime<chrono::FixedOffset> {
        let logs = server.logs();
        let line = logs
            .lines()
            .find(|l| l.contains(&format!("\"message\":\"{message}\"")))
            .unwrap_or_else(|| panic!("no `{message}` in:\n{logs}"));
        let parsed: Value = serde_json::from_str(line).unwrap();
        chrono::DateTime::parse_from_rfc3339(parsed["timestamp"].as_str().unwrap()).unwrap()
    };
    let drained = (at("stopped") - at("shutdown requested; finishing in-flight requests"))
        .to_std()
        .unwrap();
    assert!(
        drained < Duration::from_secs(10),
        "drained after {drained:?}"
    );
    assert!(took < Duration::from_secs(15), "exited after {took:?}");
    for task in load {
        assert!(task.await.unwrap() > 0, "load was served before the signal");
    }
    // Dropped at the grace period, or failed when the cluster stopped: never served.
    match stuck.await.unwrap() {
        Err(_) => {}
        Ok(r) => assert_eq!(r.status(), 503, "the stuck request was answered"),
    }
    let logs = server.logs();
    assert!(
        logs.contains("in-flight requests did not finish within the grace period"),
        "{logs}"
    );
    assert!(!cluster_running(&data_dir));
    drop(admin);
    eprintln!("SIGTERM with a stuck request: drained in {drained:?}, exited 0 after {took:?}");
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_file(data_dir.with_extension("run1.log"));
    let _ = std::fs::remove_file(data_dir.join("postgres").with_extension("lock"));
}

#[tokio::test]
async fn two_migrate_processes_started_together_both_succeed() {
    use diesel_async::RunQueryDsl;
    let db = crate::support::postgres::TestDb::create_empty().await;
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_platform-api"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let logs = format!(
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(a.status.success() && b.status.success(), "{logs}");
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = db.connect().await;
    let recorded: N = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result(&mut conn)
        .await
        .unwrap();
    let applied = logs.matches("applied migration").count();
    assert_eq!(
        applied as i64, recorded.n,
        "each migration applied once in all: {logs}"
    );
    assert!(
        logs.contains("another process is migrating"),
        "the two really overlapped: {logs}"
    );
    // The concurrently built indexes are valid.
    let invalid: N = diesel::sql_query("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(invalid.n, 0);
}
