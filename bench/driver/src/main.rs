//! bench-driver: the load generator and report of platform-api's benchmarks.
//! See bench/README.md; bench/run.sh drives it. Each scenario is a subcommand that writes
//! one JSON part; `report` merges the parts into one results file and prints the table.

mod export;
mod floor;
mod graph;
mod http;
mod load;
mod procstat;
mod provisioning;
mod report;
mod tokens;
mod ws_idle;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(about = "platform-api benchmark driver")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Requests per second of the c=1 (open-loop) run.
    #[arg(long, env = "BENCH_RATE", default_value_t = 50.0)]
    rate: f64,
    /// Seconds of the c=1 run.
    #[arg(long, env = "BENCH_C1_SECS", default_value_t = 10)]
    c1_secs: u64,
    /// Connections of the throughput run.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Seconds of the throughput run.
    #[arg(long, env = "BENCH_CN_SECS", default_value_t = 10)]
    cn_secs: u64,
    /// Seconds of warm-up (at c=N) before each operation.
    #[arg(long, env = "BENCH_WARMUP_SECS", default_value_t = 2)]
    warmup_secs: u64,
}

impl LoadArgs {
    fn plan(&self) -> graph::Plan {
        graph::Plan {
            rate: self.rate,
            c1: Duration::from_secs(self.c1_secs),
            concurrency: self.concurrency,
            cn: Duration::from_secs(self.cn_secs),
            warmup: Duration::from_secs(self.warmup_secs),
        }
    }
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// platform-api's address (host:port).
    #[arg(long, default_value = "127.0.0.1:18080")]
    addr: String,
    /// platform-api's DATA_DIR (its development signing key is read from there).
    #[arg(long)]
    data_dir: PathBuf,
    /// platform-api's process id (CPU and RSS).
    #[arg(long)]
    server_pid: Option<u32>,
}

impl ServerArgs {
    fn target(&self, db_ppid: Option<u32>) -> anyhow::Result<graph::Target> {
        let issuer = format!("http://{}", self.addr);
        Ok(graph::Target {
            addr: self.addr.clone(),
            path: "/graphql".into(),
            signer: Some(tokens::DevSigner::load(&self.data_dir, &issuer)?),
            metrics_url: Some(format!("http://{}/metrics", self.addr)),
            server_pid: self.server_pid,
            db_ppid,
        })
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Q1–Q4 and M1 against platform-api.
    Graph {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        load: LoadArgs,
        /// Operations to run (comma-separated; default all).
        #[arg(long, value_delimiter = ',')]
        ops: Vec<String>,
        /// The PostgreSQL postmaster's pid: its backends' CPU is reported too.
        #[arg(long)]
        db_ppid: Option<u32>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Exports the whole audit log to CSV as an operator: rows/s and peak RSS growth.
    Export {
        #[command(flatten)]
        server: ServerArgs,
        /// The PostgreSQL postmaster's pid: its backends' CPU is reported too.
        #[arg(long)]
        db_ppid: Option<u32>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sends one request of an operation and prints the answer.
    Once {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value = "Q2")]
        op: String,
    },
    /// The Q2 equivalent against the peer (PostGraphile).
    Peer {
        /// The peer's address (host:port).
        #[arg(long, default_value = "127.0.0.1:15000")]
        addr: String,
        #[arg(long)]
        pid: Option<u32>,
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        db_ppid: Option<u32>,
        #[arg(long)]
        out: PathBuf,
    },
    /// pgbench over the statements platform-api logged for one request.
    Floor {
        /// The PostgreSQL log (log_line_prefix '%a|%p|').
        #[arg(long)]
        pg_log: PathBuf,
        /// Read the log from this byte on.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value = "platform-api")]
        application: String,
        /// Database URL for pgbench.
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "pgbench")]
        pgbench: String,
        /// Where the script and pgbench's logs go.
        #[arg(long)]
        work: PathBuf,
        /// The graph phase's results: the capture must hold exactly Q2's statements per
        /// request (rounded), else the driver exits with status 3 and nothing is replayed.
        #[arg(long)]
        graph: Option<PathBuf>,
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Idle subscribed WebSocket connections and their memory.
    WsIdle {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, env = "BENCH_WS_CONNECTIONS", default_value_t = 2000)]
        connections: usize,
        /// Seconds to wait after opening before reading RSS.
        #[arg(long, default_value_t = 3)]
        settle_secs: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Jobs/s through the worker path (no upstream configured) and provisioning event →
    /// client latency over `provisioningProgress`.
    Provisioning {
        #[command(flatten)]
        server: ServerArgs,
        /// Database URL for psql (arranging and releasing jobs).
        #[arg(long)]
        db_url: String,
        /// Tenants (four jobs each) of the jobs/s phase.
        #[arg(long, env = "BENCH_PROV_TENANTS", default_value_t = 2500)]
        jobs_tenants: usize,
        /// Tenants followed in the latency phase.
        #[arg(long, env = "BENCH_PROV_SUB_TENANTS", default_value_t = 100)]
        sub_tenants: usize,
        /// Subscribers (WebSocket connections) per followed tenant.
        #[arg(long, env = "BENCH_PROV_PER_TENANT", default_value_t = 10)]
        per_tenant: usize,
        /// More replicas of platform-api on the same database (host:port, same DATA_DIR):
        /// jobs and statements are summed over all, subscribers spread over all in turn.
        #[arg(long)]
        replica: Vec<String>,
        /// The section the part is written under.
        #[arg(long, default_value = "provisioning")]
        section: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Merges parts into one results file and prints the table.
    Report {
        #[arg(long)]
        out: PathBuf,
        parts: Vec<PathBuf>,
    },
}

fn write(out: &PathBuf, value: serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Graph {
            server,
            load,
            ops,
            db_ppid,
            out,
        } => {
            let target = server.target(db_ppid)?;
            let idle = graph::rss(&target);
            let all = graph::operations();
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|op| ops.is_empty() || ops.iter().any(|o| o.eq_ignore_ascii_case(op.name)))
                .collect();
            let results = graph::run(&target, &chosen, &load.plan()).await?;
            let after = graph::rss(&target);
            write(
                &out,
                json!({
                    "graph": { "rate": load.rate, "concurrency": load.concurrency, "ops": results },
                    "memory": { "idle_rss_kib": idle, "rss_after_load_kib": after },
                }),
            )?;
        }
        Cmd::Export {
            server,
            db_ppid,
            out,
        } => {
            let target = server.target(db_ppid)?;
            let result = export::run(&target).await?;
            write(&out, json!({ "export": result }))?;
        }
        Cmd::Once { server, op } => {
            let target = server.target(None)?;
            let op = graph::operations()
                .into_iter()
                .find(|o| o.name.eq_ignore_ascii_case(&op))
                .ok_or_else(|| anyhow::anyhow!("no operation {op}"))?;
            println!("{}", graph::once(&target, &op).await?);
        }
        Cmd::Peer {
            addr,
            pid,
            load,
            db_ppid,
            out,
        } => {
            let target = graph::Target {
                addr,
                path: "/graphql".into(),
                signer: None,
                metrics_url: None,
                server_pid: pid,
                db_ppid,
            };
            let idle = graph::rss(&target);
            let results = graph::run(&target, &graph::peer_operations(), &load.plan()).await?;
            let mut part = json!({ "peer": results });
            part["peer"]["idle_rss_kib"] = json!(idle);
            write(&out, part)?;
        }
        Cmd::Floor {
            pg_log,
            offset,
            application,
            url,
            pgbench,
            work,
            graph,
            load,
            out,
        } => {
            let statements = floor::read_log(&pg_log, offset, &application)?;
            eprintln!("  floor: {} statements captured", statements.len());
            if let Some(graph) = graph {
                let expected = floor::expected_statements(&graph, "Q2")?;
                if statements.len() != expected {
                    // A background job's statements (a worker's poll) fell in the window.
                    eprintln!(
                        "  floor: expected {expected} (Q2's statements per request): capture again"
                    );
                    std::process::exit(3);
                }
            }
            let result = floor::run(
                &pgbench,
                &url,
                &work,
                &statements,
                load.rate,
                load.c1_secs,
                load.concurrency,
                load.cn_secs,
            )?;
            eprintln!(
                "  floor: p50 {:.3} ms at c=1; {:.0} tps at c={}",
                result.c1.p50_ms, result.cn.throughput, load.concurrency
            );
            write(&out, json!({ "floor": { "Q2": result } }))?;
        }
        Cmd::WsIdle {
            server,
            connections,
            settle_secs,
            out,
        } => {
            let target = server.target(None)?;
            let pid = server
                .server_pid
                .ok_or_else(|| anyhow::anyhow!("--server-pid is required"))?;
            let signer = target.signer.as_ref().expect("a platform-api target signs");
            let result = ws_idle::run(
                &server.addr,
                signer,
                pid,
                connections,
                Duration::from_secs(settle_secs),
            )
            .await?;
            eprintln!(
                "  ws-idle: {} connections, {:.1} KiB each ({} failed)",
                result.connections, result.kib_per_connection, result.failed
            );
            write(&out, json!({ "memory": { "ws": result } }))?;
        }
        Cmd::Provisioning {
            server,
            db_url,
            jobs_tenants,
            sub_tenants,
            per_tenant,
            replica,
            section,
            out,
        } => {
            let mut servers = vec![server.addr.clone()];
            servers.extend(replica);
            let mut signers = Vec::with_capacity(servers.len());
            for addr in &servers {
                let issuer = format!("http://{addr}");
                signers.push(tokens::DevSigner::load(&server.data_dir, &issuer)?);
            }
            let result = provisioning::run(
                &servers,
                &signers,
                &db_url,
                jobs_tenants,
                sub_tenants,
                per_tenant,
            )
            .await?;
            let mut part = serde_json::Map::new();
            part.insert(section, serde_json::to_value(result)?);
            write(&out, serde_json::Value::Object(part))?;
        }
        Cmd::Report { out, parts } => {
            let mut all = report::load(&parts)?;
            let table = report::table(&all);
            all["table"] = json!(table);
            write(&out, all)?;
            println!("{table}");
        }
    }
    Ok(())
}
