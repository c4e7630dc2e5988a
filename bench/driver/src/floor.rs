//! The `floor` scenario: the statements platform-api sent for one request, taken from the
//! PostgreSQL statement log (`log_statement = all`), replayed by pgbench with the same
//! parameters and the same protocol (named prepared statements or unnamed ones), at c=1 on
//! the same constant-rate schedule and at c=N back to back.

use std::path::{Path, PathBuf};
use std::process::Command;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::{RunStats, summarise};

/// One logged statement.
#[derive(Debug, Clone, Serialize)]
pub struct Logged {
    pub sql: String,
    /// `None` for a NULL parameter.
    pub params: Vec<Option<String>>,
    /// Sent as a named (cached) prepared statement.
    pub prepared: bool,
}

/// The statements `application` logged after byte `offset` of `log`. The cluster's
/// `log_line_prefix` must be `%a|%p|` (bench/run.sh sets it).
pub fn read_log(log: &Path, offset: u64, application: &str) -> anyhow::Result<Vec<Logged>> {
    let bytes = std::fs::read(log)?;
    let text = String::from_utf8_lossy(&bytes[(offset as usize).min(bytes.len())..]).into_owned();
    // Group continuation lines with the line that starts an entry.
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_entry = line
            .split('|')
            .nth(1)
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if starts_entry || entries.is_empty() {
            entries.push(line.to_string());
        } else if let Some(last) = entries.last_mut() {
            last.push('\n');
            last.push_str(line);
        }
    }
    let prefix = format!("{application}|");
    let mut out: Vec<Logged> = Vec::new();
    for entry in entries {
        let Some(rest) = entry.strip_prefix(&prefix) else {
            continue;
        };
        let Some(body) = rest.split_once('|').map(|(_, b)| b) else {
            continue;
        };
        if let Some(stmt) = body.strip_prefix("LOG:  execute ") {
            let (name, sql) = stmt.split_once(": ").unwrap_or(("", stmt));
            out.push(Logged {
                sql: sql.to_string(),
                params: Vec::new(),
                prepared: name != "<unnamed>",
            });
        } else if let Some(sql) = body.strip_prefix("LOG:  statement: ") {
            out.push(Logged {
                sql: sql.to_string(),
                params: Vec::new(),
                prepared: false,
            });
        } else if let Some(params) = body.strip_prefix("DETAIL:  parameters: ")
            && let Some(last) = out.last_mut()
        {
            last.params = parse_params(params)?;
        }
    }
    Ok(out)
}

/// `op`'s statements per request in the graph phase's results (`graph.json`), rounded: what
/// one capture of it must hold.
pub fn expected_statements(graph: &Path, op: &str) -> anyhow::Result<usize> {
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(graph)?)?;
    let per_request = results["graph"]["ops"][op]["statements_per_request"]
        .as_f64()
        .ok_or_else(|| {
            anyhow::anyhow!("{} has no statements per request for {op}", graph.display())
        })?;
    Ok(per_request.round() as usize)
}

/// Parses `$1 = 'a', $2 = NULL, $3 = 'it''s'`.
fn parse_params(text: &str) -> anyhow::Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        anyhow::ensure!(chars.next() == Some('$'), "bad parameter list: {text}");
        let mut digits = String::new();
        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            digits.push(chars.next().unwrap_or('0'));
        }
        let index: usize = digits.parse()?;
        for expected in [' ', '=', ' '] {
            anyhow::ensure!(chars.next() == Some(expected), "bad parameter list: {text}");
        }
        let value = if chars.peek() == Some(&'\'') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        v.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => v.push(c),
                    None => anyhow::bail!("unterminated parameter: {text}"),
                }
            }
            Some(v)
        } else {
            let word: String = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
            anyhow::ensure!(word.trim() == "NULL", "bad parameter: {word}");
            None
        };
        anyhow::ensure!(index == out.len() + 1, "parameters out of order: {text}");
        out.push(value);
    }
    Ok(out)
}

/// A pgbench script for `statements`: `$n` becomes a pgbench variable (set with `-D`), a
/// NULL parameter the literal NULL. Returns (script, defines).
pub fn script(statements: &[Logged]) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut defines = Vec::new();
    for (i, stmt) in statements.iter().enumerate() {
        let mut sql = String::new();
        let mut chars = stmt.sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                let digits: String =
                    std::iter::from_fn(|| chars.next_if(|d| d.is_ascii_digit())).collect();
                let n: usize = digits.parse().unwrap_or(0);
                match stmt.params.get(n.wrapping_sub(1)) {
                    Some(Some(value)) => {
                        let var = format!("s{i}p{n}");
                        sql.push(':');
                        sql.push_str(&var);
                        defines.push(format!("{var}={value}"));
                    }
                    _ => sql.push_str("NULL"),
                }
            } else {
                sql.push(c);
            }
        }
        script.push_str(sql.trim_end().trim_end_matches(';'));
        script.push_str(";\n");
    }
    defines.dedup();
    (script, defines)
}

/// What the floor measured.
#[derive(Serialize)]
pub struct Floor {
    pub statements: usize,
    pub protocol: &'static str,
    pub script: String,
    pub c1: RunStats,
    pub cn: RunStats,
}

#[allow(clippy::too_many_arguments)]
/// Runs pgbench over `script` at c=1 (rate-limited, latency from the schedule) and c=N.
pub fn run(
    pgbench: &str,
    url: &str,
    work: &Path,
    statements: &[Logged],
    rate: f64,
    c1_secs: u64,
    concurrency: usize,
    cn_secs: u64,
) -> anyhow::Result<Floor> {
    anyhow::ensure!(!statements.is_empty(), "no statements were captured");
    std::fs::create_dir_all(work)?;
    let (text, defines) = script(statements);
    let script_path = work.join("q2.pgbench.sql");
    std::fs::write(&script_path, &text)?;
    // The parameters, one `-D` argument a line, to rerun the script by hand.
    std::fs::write(work.join("q2.pgbench.defines"), defines.join("\n") + "\n")?;
    let prepared = statements.iter().filter(|s| s.prepared).count() * 2 >= statements.len();
    let protocol = if prepared { "prepared" } else { "extended" };
    let base = |args: &mut Command| {
        args.arg("-n")
            .arg("-M")
            .arg(protocol)
            .arg("-f")
            .arg(&script_path);
        for d in &defines {
            args.arg("-D").arg(d);
        }
        args.arg(url);
    };

    // c=1, rate-limited, per-transaction log for percentiles.
    let log_dir = work.join("pgbench-log");
    let _ = std::fs::remove_dir_all(&log_dir);
    std::fs::create_dir_all(&log_dir)?;
    let mut cmd = Command::new(pgbench);
    cmd.args(["-c", "1", "-j", "1", "-R"])
        .arg(format!("{rate}"))
        .arg("-T")
        .arg(c1_secs.to_string())
        .arg("-l")
        .arg(format!("--log-prefix={}", log_dir.join("q2").display()));
    base(&mut cmd);
    let out = output(cmd)?;
    let mut c1 = parse_summary(&out, 1);
    c1.target_rate = Some(rate);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for file in log_files(&log_dir)? {
        for line in std::fs::read_to_string(file)?.lines() {
            // client_id transaction_no time script_no time_epoch time_us [schedule_lag]
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let time: u64 = f[2].parse().unwrap_or(0);
            let lag: u64 = f.get(6).and_then(|l| l.parse().ok()).unwrap_or(0);
            let _ = hist.record((time + lag).clamp(1, 60_000_000));
        }
    }
    summarise(&mut c1, &hist);

    let mut cmd = Command::new(pgbench);
    cmd.arg("-c")
        .arg(concurrency.to_string())
        .arg("-j")
        .arg(concurrency.min(2).to_string())
        .arg("-T")
        .arg(cn_secs.to_string());
    base(&mut cmd);
    let out = output(cmd)?;
    let cn = parse_summary(&out, concurrency);
    Ok(Floor {
        statements: statements.len(),
        protocol,
        script: text,
        c1,
        cn,
    })
}

fn output(mut cmd: Command) -> anyhow::Result<String> {
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    anyhow::ensure!(out.status.success(), "pgbench failed: {stderr}\n{stdout}");
    if stderr.contains("ERROR") {
        anyhow::bail!("pgbench reported errors: {stderr}");
    }
    Ok(stdout)
}

fn log_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect())
}

/// Reads pgbench's summary: transactions, failures, duration and tps.
fn parse_summary(out: &str, concurrency: usize) -> RunStats {
    let value = |key: &str| -> Option<f64> {
        out.lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split([':', '=']).nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.split('/').next())
            .and_then(|v| v.parse().ok())
    };
    let requests = value("number of transactions actually processed").unwrap_or(0.0) as u64;
    let errors = value("number of failed transactions").unwrap_or(0.0) as u64;
    let seconds = value("duration").unwrap_or(0.0);
    let tps = value("tps").unwrap_or(0.0);
    let mean_ms = value("latency average").unwrap_or(0.0);
    RunStats {
        concurrency,
        seconds,
        requests,
        errors,
        throughput: tps,
        mean_ms,
        ..Default::default()
    }
}
