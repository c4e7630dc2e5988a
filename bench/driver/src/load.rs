//! The two load shapes every scenario uses, with HdrHistogram latencies.
//!
//! - [`open_loop`]: one connection, requests scheduled at a constant rate; each latency is
//!   measured from the request's *intended* send time, so a slow answer that delays the next
//!   sends is charged to them too (no coordinated omission).
//! - [`closed_loop`]: `c` connections each sending back to back for a fixed time (throughput).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::http::{Conn, Prepared, is_success};

/// What a run measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RunStats {
    pub concurrency: usize,
    /// Scheduled rate (open loop only), requests/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    pub seconds: f64,
    pub requests: u64,
    pub errors: u64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// An example of a failed answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

fn new_hist() -> Histogram<u64> {
    // 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// Fills in latency percentiles (µs histogram → ms).
pub fn summarise(stats: &mut RunStats, hist: &Histogram<u64>) {
    let ms = |us: u64| us as f64 / 1000.0;
    stats.p50_ms = ms(hist.value_at_quantile(0.50));
    stats.p90_ms = ms(hist.value_at_quantile(0.90));
    stats.p99_ms = ms(hist.value_at_quantile(0.99));
    stats.p999_ms = ms(hist.value_at_quantile(0.999));
    stats.max_ms = ms(hist.max());
    stats.mean_ms = hist.mean() / 1000.0;
}

/// Picks the request of virtual user `vu` for its `n`-th send.
pub type RequestFor = Arc<dyn Fn(usize, u64) -> Prepared + Send + Sync>;

/// One connection, `rate` requests per second for `duration`, latency from intended time.
pub async fn open_loop(
    addr: &str,
    request: RequestFor,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<RunStats> {
    let mut conn = Conn::open(addr).await?;
    let mut hist = new_hist();
    let mut stats = RunStats {
        concurrency: 1,
        target_rate: Some(rate),
        ..Default::default()
    };
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        let intended = start + interval.mul_f64(n as f64);
        if intended >= start + duration {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let req = request(0, n);
        let result = conn.send(&req).await;
        let latency = intended.elapsed();
        record(&mut stats, &mut hist, result, latency);
        n += 1;
    }
    stats.seconds = start.elapsed().as_secs_f64();
    stats.throughput = stats.requests as f64 / stats.seconds;
    summarise(&mut stats, &hist);
    Ok(stats)
}

/// `concurrency` connections sending back to back for `duration`.
pub async fn closed_loop(
    addr: &str,
    request: RequestFor,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<RunStats> {
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(Conn::open(addr).await?);
    }
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for (vu, mut conn) in conns.into_iter().enumerate() {
        let request = Arc::clone(&request);
        tasks.push(tokio::spawn(async move {
            let mut hist = new_hist();
            let mut stats = RunStats::default();
            let mut n = 0;
            while Instant::now() < end {
                let req = request(vu, n);
                let sent = Instant::now();
                let result = conn.send(&req).await;
                record(&mut stats, &mut hist, result, sent.elapsed());
                n += 1;
            }
            (stats, hist)
        }));
    }
    let mut stats = RunStats {
        concurrency,
        ..Default::default()
    };
    let mut hist = new_hist();
    for task in tasks {
        let (s, h) = task.await?;
        stats.requests += s.requests;
        stats.errors += s.errors;
        if stats.first_error.is_none() {
            stats.first_error = s.first_error;
        }
        hist.add(&h)?;
    }
    stats.seconds = start.elapsed().as_secs_f64();
    stats.throughput = (stats.requests - stats.errors) as f64 / stats.seconds;
    summarise(&mut stats, &hist);
    Ok(stats)
}

fn record(
    stats: &mut RunStats,
    hist: &mut Histogram<u64>,
    result: anyhow::Result<(hyper::StatusCode, bytes::Bytes)>,
    latency: Duration,
) {
    stats.requests += 1;
    let ok = match &result {
        Ok((status, body)) => is_success(*status, body),
        Err(_) => false,
    };
    if !ok {
        stats.errors += 1;
        if stats.first_error.is_none() {
            stats.first_error = Some(match result {
                Ok((status, body)) => {
                    let text = String::from_utf8_lossy(&body);
                    format!("{status}: {}", &text[..text.len().min(300)])
                }
                Err(e) => format!("{e:#}"),
            });
        }
    }
    let us = latency.as_micros().clamp(1, 60_000_000) as u64;
    let _ = hist.record(us);
}
