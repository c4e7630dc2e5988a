//! The `provisioning` scenario (issue #7), against a server with no upstream configured, so
//! every step is an honest no-op (`SKIPPED`, no network call) and what is measured is the
//! worker path itself: claim, start, settle, events, NOTIFY.
//!
//! 1. Jobs/s: `--jobs-tenants` tenants with their four step jobs are written in one
//!    transaction, held back (`run_at = 'infinity'`), then released at once with one NOTIFY;
//!    the clock runs from the release until `platform_api_jobs_total{outcome="done"}` has
//!    grown by all of them.
//! 2. Event → client latency: `--sub-tenants` tenants, each with `--per-tenant` WebSocket
//!    connections subscribed to `provisioningProgress` (after the four `queued` events), then
//!    the jobs are released; each delivered event's latency is the client's clock at receipt
//!    minus the event's `at` (the start of the transaction that wrote it: an upper bound of
//!    commit → client).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::graph::subject;
use crate::http::get_text;
use crate::tokens::{DevSigner, OPERATOR};

const STEPS: &str = "ARRAY['authentik_group','stalwart_domain','ocis_space','stripe_customer']";

/// What the scenario measured.
#[derive(Serialize)]
pub struct Provisioning {
    pub jobs: u64,
    pub jobs_seconds: f64,
    pub jobs_per_second: f64,
    pub statements_per_job: f64,
    pub subscribers: usize,
    pub sub_tenants: usize,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub completed_streams: usize,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_max_ms: f64,
}

async fn psql(db_url: &str, sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .args(["-X", "-qAt", "-v", "ON_ERROR_STOP=1", db_url, "-c", sql])
        .status()
        .await?;
    anyhow::ensure!(status.success(), "psql failed: {sql}");
    Ok(())
}

async fn metric(addr: &str, line_start: &str) -> anyhow::Result<f64> {
    let text = get_text(&format!("http://{addr}/metrics")).await?;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no metric {line_start}"))
}

/// Tenants `<tag>-<n>` with their steps and held-back jobs (and, with `queued`, the four
/// `queued` events `createTenant` writes), in one statement.
fn arrange_sql(tag: &str, tenants: usize, queued: bool) -> String {
    let events = if queued {
        format!(
            ", e AS (INSERT INTO provisioning_events (tenant_id, seq, step, status, message)
                 SELECT t.id, o.n, o.step, 'pending', 'queued'
                   FROM t, unnest({STEPS}) WITH ORDINALITY AS o(step, n) RETURNING 1)"
        )
    } else {
        String::new()
    };
    format!(
        "WITH t AS (INSERT INTO tenants (slug, name)
                    SELECT '{tag}-' || g, 'Bench ' || g FROM generate_series(1, {tenants}) g
                    RETURNING id),
              s AS (INSERT INTO provisioning_steps (tenant_id, step)
                    SELECT t.id, st FROM t, unnest({STEPS}) st RETURNING tenant_id, step){events}
         INSERT INTO jobs (kind, payload, dedupe_key, max_attempts, run_at)
         SELECT 'provisioning_step', jsonb_build_object('tenant', tenant_id, 'step', step),
                'provisioning:' || tenant_id || ':' || step, 8, 'infinity' FROM s"
    )
}

fn release_sql(tag: &str) -> String {
    format!(
        "UPDATE jobs SET run_at = now() WHERE status = 'queued' AND run_at = 'infinity'
            AND payload->>'tenant' IN (SELECT id::text FROM tenants WHERE slug LIKE '{tag}-%');
         SELECT pg_notify('platform_api_events', 'jobs');"
    )
}

/// A metric summed over every server.
async fn total(addrs: &[String], line_start: &str) -> anyhow::Result<f64> {
    let mut sum = 0.0;
    for addr in addrs {
        sum += metric(addr, line_start).await?;
    }
    Ok(sum)
}

async fn wait_done(addrs: &[String], target: f64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while total(addrs, "platform_api_jobs_total{outcome=\"done\"}").await? < target {
        anyhow::ensure!(
            Instant::now() < deadline,
            "jobs did not finish within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

const PROGRESS: &str = "subscription P($slug: String!) {
    provisioningProgress(tenantSlug: $slug, afterSeq: 4) { seq terminal at } }";

/// One subscriber: latencies (µs) of the events it received, and whether it completed.
async fn subscriber(
    addr: String,
    token: String,
    slug: String,
    ready: tokio::sync::mpsc::Sender<()>,
    window: Duration,
) -> anyhow::Result<(Vec<u64>, bool)> {
    let mut request = format!("ws://{addr}/graphql").into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(Message::text(init.to_string())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("connection_ack") => break,
            Some(Ok(_)) => continue,
            other => anyhow::bail!("no ack: {other:?}"),
        }
    }
    let subscribe = json!({ "id": "p", "type": "subscribe",
        "payload": { "query": PROGRESS, "variables": { "slug": slug } } });
    ws.send(Message::text(subscribe.to_string())).await?;
    let _ = ready.send(()).await;
    let mut latencies = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let message = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => return Ok((latencies, false)),
        };
        let Message::Text(text) = message else {
            continue;
        };
        let received = chrono::Utc::now();
        let value: serde_json::Value = serde_json::from_str(text.as_str())?;
        match value["type"].as_str() {
            Some("next") => {
                let event = &value["payload"]["data"]["provisioningProgress"];
                let at = event["at"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .ok_or_else(|| anyhow::anyhow!("no `at`: {value}"))?;
                let us = (received - at.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap_or(0)
                    .max(1);
                latencies.push(u64::try_from(us).unwrap_or(1));
            }
            Some("complete") => return Ok((latencies, true)),
            _ => anyhow::bail!("unexpected {value}"),
        }
    }
}

/// Removes the tenants (and their jobs, steps and events) of earlier runs of this scenario.
fn cleanup_sql() -> &'static str {
    "DELETE FROM jobs WHERE kind = 'provisioning_step' AND payload->>'tenant' IN
            (SELECT id::text FROM tenants WHERE slug ~ '^bp[0-9]+[js]-');
     DELETE FROM tenants WHERE slug ~ '^bp[0-9]+[js]-';"
}

/// Runs both phases against one server, or several replicas on one database (`addrs`, each
/// with its signer): jobs and statements are summed over all of them, and subscriber `i`
/// connects to replica `i % n`.
pub async fn run(
    addrs: &[String],
    signers: &[DevSigner],
    db_url: &str,
    jobs_tenants: usize,
    sub_tenants: usize,
    per_tenant: usize,
) -> anyhow::Result<Provisioning> {
    let tag = format!(
        "bp{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    psql(db_url, cleanup_sql()).await?;
    // Phase 1: jobs/s.
    let jobs = (jobs_tenants * 4) as u64;
    psql(
        db_url,
        &arrange_sql(&format!("{tag}j"), jobs_tenants, false),
    )
    .await?;
    let done_before = total(addrs, "platform_api_jobs_total{outcome=\"done\"}").await?;
    let statements_before = total(addrs, "platform_api_db_statements_total").await?;
    let started = Instant::now();
    psql(db_url, &release_sql(&format!("{tag}j"))).await?;
    wait_done(addrs, done_before + jobs as f64, Duration::from_secs(600)).await?;
    let jobs_seconds = started.elapsed().as_secs_f64();
    let statements = total(addrs, "platform_api_db_statements_total").await? - statements_before;
    eprintln!(
        "  provisioning: {jobs} jobs in {jobs_seconds:.2} s = {:.0} jobs/s",
        jobs as f64 / jobs_seconds
    );

    // Phase 2: event → client latency.
    let stag = format!("{tag}s");
    psql(db_url, &arrange_sql(&stag, sub_tenants, true)).await?;
    let subscribers = sub_tenants * per_tenant;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(subscribers);
    let mut tasks = Vec::with_capacity(subscribers);
    let window = Duration::from_secs(120);
    for i in 0..subscribers {
        let slug = format!("{stag}-{}", 1 + i % sub_tenants);
        let server = i % addrs.len();
        let token = signers[server].sign(&subject(1 + i % 64), OPERATOR)?;
        tasks.push(tokio::spawn(subscriber(
            addrs[server].clone(),
            token,
            slug,
            ready_tx.clone(),
            window,
        )));
    }
    drop(ready_tx);
    let mut ready = 0;
    while ready < subscribers {
        match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            _ => break,
        }
    }
    anyhow::ensure!(
        ready == subscribers,
        "only {ready} of {subscribers} subscribers connected"
    );
    // Let the last subscriptions register before the first event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    psql(db_url, &release_sql(&stag)).await?;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut deliveries = 0;
    let mut completed = 0;
    for task in tasks {
        let (latencies, complete) = task.await??;
        deliveries += latencies.len() as u64;
        completed += usize::from(complete);
        for us in latencies {
            hist.record(us.min(120_000_000))?;
        }
    }
    psql(db_url, cleanup_sql()).await?;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    // Per tenant: running + skipped for each of four steps, then the terminal event.
    let expected = (subscribers * 9) as u64;
    eprintln!(
        "  provisioning: {subscribers} subscribers, {deliveries}/{expected} events, {completed} completed; p50 {:.2} ms p99 {:.2} ms",
        ms(0.5),
        ms(0.99)
    );
    Ok(Provisioning {
        jobs,
        jobs_seconds,
        jobs_per_second: jobs as f64 / jobs_seconds,
        statements_per_job: statements / jobs as f64,
        subscribers,
        sub_tenants,
        deliveries_expected: expected,
        deliveries,
        completed_streams: completed,
        latency_p50_ms: ms(0.5),
        latency_p99_ms: ms(0.99),
        latency_p999_ms: ms(0.999),
        latency_max_ms: hist.max() as f64 / 1000.0,
    })
}
