//! The `export` scenario (issue 24, acceptance 3): an operator exports the whole seeded audit
//! log (1,000,000 rows) to CSV. Measured: the job's time from the request to `READY` (rows/s),
//! the download's time and bytes (streamed, counted, not kept), the server's peak RSS growth
//! over both (VmRSS sampled every 10 ms) and the server's and PostgreSQL's CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::graph::{Target, subject};
use crate::http::{Conn, Prepared};
use crate::procstat::{self, CpuMeter};
use crate::tokens::OPERATOR;

const START: &str = "mutation { exportAuditEvents(input: {}) { export { id status } } }";
const STATUS: &str = "query($id: ID!) { auditExport(id: $id) { status rowCount byteCount truncated downloadUrl error } }";

async fn graphql(
    conn: &mut Conn,
    auth: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let prepared = Prepared {
        path: "/graphql".into(),
        authorization: Some(auth.to_owned()),
        body: Bytes::from(serde_json::to_vec(
            &json!({ "query": query, "variables": variables }),
        )?),
    };
    let (status, body) = conn.send(&prepared).await?;
    let body: Value = serde_json::from_slice(&body)?;
    anyhow::ensure!(
        status.is_success() && body.get("errors").is_none(),
        "{status}: {body}"
    );
    Ok(body["data"].clone())
}

/// Samples VmRSS of `pid` until `stop`; returns the highest value seen (KiB).
fn sample_peak(
    pid: u32,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(kib) = procstat::rss_kib(pid) {
                peak.fetch_max(kib, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

/// Runs the scenario; the JSON part's `export` section.
pub async fn run(target: &Target) -> anyhow::Result<Value> {
    let signer = target
        .signer
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no signer"))?;
    let auth = format!("Bearer {}", signer.sign(&subject(1), OPERATOR)?);
    let mut conn = Conn::open(&target.addr).await?;
    // Resolve the viewer once, so the measurement starts warm.
    graphql(&mut conn, &auth, "{ me { operator } }", json!({})).await?;
    let pid = target.server_pid;
    let rss_before = pid.and_then(|p| procstat::rss_kib(p).ok());
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let sampler = pid.map(|p| sample_peak(p, Arc::clone(&stop), Arc::clone(&peak)));
    let cpu = CpuMeter::start(pid, target.db_ppid);

    let started = Instant::now();
    let data = graphql(&mut conn, &auth, START, json!({})).await?;
    let id = data["exportAuditEvents"]["export"]["id"].clone();
    let export = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let data = graphql(&mut conn, &auth, STATUS, json!({ "id": id })).await?;
        let export = data["auditExport"].clone();
        match export["status"].as_str() {
            Some("READY") => break export,
            Some("FAILED") => anyhow::bail!("the export failed: {export}"),
            _ => {}
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "no export after 10 minutes"
        );
    };
    let job_secs = started.elapsed().as_secs_f64();
    let (job_cpu_ms, job_db_cpu_ms) = cpu.stop();

    let download_cpu = CpuMeter::start(pid, target.db_ppid);
    let downloaded = Instant::now();
    let stream = TcpStream::connect(&target.addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(export["downloadUrl"].as_str().unwrap_or_default())
        .header("host", target.addr.as_str())
        .header("authorization", auth.as_str())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "download: {}",
        response.status()
    );
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len() as u64;
        }
    }
    let download_secs = downloaded.elapsed().as_secs_f64();
    let (download_cpu_ms, download_db_cpu_ms) = download_cpu.stop();
    stop.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let rows = export["rowCount"].as_f64().unwrap_or(0.0);
    let peak = peak.load(Ordering::Relaxed);
    Ok(json!({
        "rows": rows,
        "bytes": bytes,
        "byte_count": export["byteCount"],
        "truncated": export["truncated"],
        "job_secs": job_secs,
        "job_rows_per_sec": rows / job_secs,
        "download_secs": download_secs,
        "download_rows_per_sec": rows / download_secs,
        "end_to_end_rows_per_sec": rows / (job_secs + download_secs),
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak,
        "rss_peak_growth_mib": rss_before.map(|b| peak.saturating_sub(b) as f64 / 1024.0),
        "job_server_cpu_ms": job_cpu_ms,
        "job_db_cpu_ms": job_db_cpu_ms,
        "download_server_cpu_ms": download_cpu_ms,
        "download_db_cpu_ms": download_db_cpu_ms,
    }))
}
