//! Merges the JSON parts the scenarios wrote into one results file and prints the table.
//!
//! Every scenario writes one part: a JSON object whose top-level keys are its sections
//! (`graph`, `floor`, `peer`, `memory`, …). Parts are deep-merged in order. Sections this
//! printer does not know are printed as flattened `key = value` lines, so a new scenario
//! shows up in the report before it has a table of its own.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Map, Value};

/// Deep-merges `b` into `a`.
pub fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Reads and merges `parts`.
pub fn load(parts: &[PathBuf]) -> anyhow::Result<Value> {
    let mut all = Value::Object(Map::new());
    for part in parts {
        let text = std::fs::read_to_string(part)?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", part.display()))?;
        merge(&mut all, value);
    }
    Ok(all)
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The table, as text.
pub fn table(all: &Value) -> String {
    let mut out = String::new();
    let graph = &all["graph"];
    let floor = &all["floor"]["Q2"];
    let peer = &all["peer"]["Q2"];
    let cn = graph["concurrency"].as_u64().unwrap_or(8);
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>8} {:>8} {:>8} {:>9} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "operation",
        "stmts",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        format!("rps c={cn}"),
        "errors",
        "CPU ms",
        "DB ms",
        "Δp50 flr",
        "rps/flr",
        "CPU/peer"
    );
    let _ = writeln!(out, "{}", "-".repeat(112));
    let row = |out: &mut String, name: &str, op: &Value, compare: bool| {
        if op.is_null() {
            return;
        }
        let errors =
            op["c1"]["errors"].as_u64().unwrap_or(0) + op["cn"]["errors"].as_u64().unwrap_or(0);
        let (d50, rps_ratio, cpu_ratio) = if compare {
            (
                f(&op["c1"]["p50_ms"])
                    .zip(f(&floor["c1"]["p50_ms"]))
                    .map(|(a, b)| a - b),
                f(&op["cn"]["throughput"])
                    .zip(f(&floor["cn"]["throughput"]))
                    .map(|(a, b)| a / b),
                f(&op["requests_per_cpu_second"])
                    .zip(f(&peer["requests_per_cpu_second"]))
                    .map(|(a, b)| a / b),
            )
        } else {
            (None, None, None)
        };
        let stmts = f(&op["statements_per_request"]).or_else(|| f(&op["statements"]));
        let _ = writeln!(
            out,
            "{:<12} {:>6} {:>8} {:>8} {:>8} {:>9} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9}",
            name,
            cell(stmts, 2),
            cell(f(&op["c1"]["p50_ms"]), 3),
            cell(f(&op["c1"]["p99_ms"]), 3),
            cell(f(&op["c1"]["p999_ms"]), 3),
            cell(f(&op["cn"]["throughput"]), 0),
            errors,
            cell(f(&op["cpu_ms_per_request"]), 3),
            cell(f(&op["db_cpu_ms_per_request"]), 3),
            cell(d50, 3),
            rps_ratio.map_or("-".into(), |r| format!("{:.0}%", r * 100.0)),
            cpu_ratio.map_or("-".into(), |r| format!("{r:.2}x")),
        );
    };
    if let Some(ops) = graph["ops"].as_object() {
        for name in ["Q1", "Q2", "Q3", "Q4", "M1"] {
            if let Some(op) = ops.get(name) {
                row(&mut out, name, op, name == "Q2");
            }
        }
        for (name, op) in ops {
            if !["Q1", "Q2", "Q3", "Q4", "M1"].contains(&name.as_str()) {
                row(&mut out, name, op, false);
            }
        }
    }
    row(&mut out, "Q2 pgbench", floor, false);
    row(&mut out, "Q2 peer", peer, false);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "c=1: one connection at {} req/s, latency from the intended send time; c={cn}: {cn} \
         connections back to back. CPU/DB ms: server process / PostgreSQL backends per request \
         at c={cn}. Δp50 flr: Q2 p50 minus pgbench's p50 for the same statements; rps/flr: \
         throughput over pgbench's; CPU/peer: requests per CPU-second over PostGraphile's.",
        cell(f(&graph["rate"]), 0)
    );
    let mem = &all["memory"];
    if !mem.is_null() {
        let mib = |kib: &Value| f(kib).map(|k| k / 1024.0);
        let _ = writeln!(
            out,
            "memory: idle RSS {} MiB (after the runs {} MiB); {} idle subscribed WebSockets: \
             {} KiB each, {} MiB per 1,000 ({} failed)",
            cell(mib(&mem["idle_rss_kib"]), 1),
            cell(mib(&mem["rss_after_load_kib"]), 1),
            mem["ws"]["connections"],
            cell(f(&mem["ws"]["kib_per_connection"]), 1),
            cell(f(&mem["ws"]["mib_per_1000"]), 2),
            mem["ws"]["failed"],
        );
    }
    if let Some(peer_mem) = f(&all["peer"]["idle_rss_kib"]) {
        let _ = writeln!(out, "peer: idle RSS {:.1} MiB", peer_mem / 1024.0);
    }
    // Sections without a table of their own.
    if let Some(sections) = all.as_object() {
        for (name, section) in sections {
            if ["graph", "floor", "peer", "memory", "meta"].contains(&name.as_str()) {
                continue;
            }
            let _ = writeln!(out, "\n[{name}]");
            flatten(&mut out, name, section);
        }
    }
    out
}

fn flatten(out: &mut String, prefix: &str, v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(out, &format!("{prefix}.{k}"), v);
            }
        }
        other => {
            let _ = writeln!(out, "{prefix} = {other}");
        }
    }
}
