//! Process metrics in the Prometheus text format.
//!
//! Deliberately small: a few atomics and fixed-bucket histograms, no registry crate. One
//! [`Metrics`] belongs to one [`crate::app::App`], so tests that run several apps in one
//! process read counters that only their own app moved.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The GraphQL operation kinds requests are labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// A query.
    Query,
    /// A mutation.
    Mutation,
    /// A subscription.
    Subscription,
    /// A request that never got as far as a known operation (parse error, unknown name).
    Invalid,
}

impl OperationKind {
    const ALL: [Self; 4] = [
        Self::Query,
        Self::Mutation,
        Self::Subscription,
        Self::Invalid,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
            Self::Invalid => "invalid",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Counters and histograms of one running app.
#[derive(Default)]
pub struct Metrics {
    graphql_requests: [AtomicU64; 4],
    graphql_errors: [AtomicU64; 4],
    graphql_latency: [Histogram; 4],
    db_statements: AtomicU64,
    anonymous_mutations: AtomicU64,
    jobs: [AtomicU64; 4],
    /// WebSocket connections and their operations.
    pub websocket: WebSocketMetrics,
}

/// How a job attempt ended, for `platform_api_jobs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done.
    Done,
    /// Failed; queued again with a backoff.
    Retried,
    /// Failed for good (dead letter).
    Dead,
    /// Not settled by this worker: its lease was taken over, or settling failed.
    Abandoned,
}

impl JobOutcome {
    const ALL: [Self; 4] = [Self::Done, Self::Retried, Self::Dead, Self::Abandoned];

    fn label(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::Abandoned => "abandoned",
        }
    }
}

/// Close codes the server sends, each counted separately.
pub const WS_CLOSE_CODES: [u16; 10] = [1001, 1002, 1008, 1009, 4400, 4401, 4403, 4408, 4409, 4429];

/// WebSocket gauges and counters.
#[derive(Default)]
pub struct WebSocketMetrics {
    connections: AtomicU64,
    operations: AtomicU64,
    closes: [AtomicU64; WS_CLOSE_CODES.len()],
}

impl WebSocketMetrics {
    /// A socket was upgraded.
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket's task ended.
    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sockets open now.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// `n` operations started on sockets.
    pub fn operations_started(&self, n: u64) {
        self.operations.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` operations ended on sockets.
    pub fn operations_ended(&self, n: u64) {
        self.operations.fetch_sub(n, Ordering::Relaxed);
    }

    /// Operations running on sockets now.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }

    /// The server closed a socket with `code` (codes outside [`WS_CLOSE_CODES`] are not counted).
    pub fn record_close(&self, code: u16) {
        if let Some(i) = WS_CLOSE_CODES.iter().position(|c| *c == code) {
            self.closes[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sockets the server closed with `code` so far.
    pub fn closes(&self, code: u16) -> u64 {
        WS_CLOSE_CODES
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.closes[i].load(Ordering::Relaxed))
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        let name = "platform_api_websocket_connections";
        writeln!(out, "# HELP {name} WebSocket connections open.")?;
        writeln!(out, "# TYPE {name} gauge")?;
        writeln!(out, "{name} {}", self.connections())?;
        let name = "platform_api_websocket_operations";
        writeln!(
            out,
            "# HELP {name} Operations running on WebSocket connections."
        )?;
        writeln!(out, "# TYPE {name} gauge")?;
        writeln!(out, "{name} {}", self.operations())?;
        let name = "platform_api_websocket_closes_total";
        writeln!(
            out,
            "# HELP {name} WebSocket connections the server closed, by close code."
        )?;
        writeln!(out, "# TYPE {name} counter")?;
        for code in WS_CLOSE_CODES {
            writeln!(out, "{name}{{code=\"{code}\"}} {}", self.closes(code))?;
        }
        Ok(())
    }
}

impl Metrics {
    /// Records one finished GraphQL operation.
    pub fn record_operation(&self, kind: OperationKind, elapsed: Duration, had_errors: bool) {
        let i = kind.index();
        self.graphql_requests[i].fetch_add(1, Ordering::Relaxed);
        if had_errors {
            self.graphql_errors[i].fetch_add(1, Ordering::Relaxed);
        }
        self.graphql_latency[i].observe(elapsed);
    }

    /// Counts one mutation attempted without valid credentials (refused before anything
    /// ran, and not written to the audit log, so anonymous clients cannot fill it).
    pub fn record_anonymous_mutation(&self) {
        self.anonymous_mutations.fetch_add(1, Ordering::Relaxed);
    }

    /// Mutations attempted without valid credentials so far.
    pub fn anonymous_mutations(&self) -> u64 {
        self.anonymous_mutations.load(Ordering::Relaxed)
    }

    /// Counts one SQL statement sent to PostgreSQL.
    pub fn record_statement(&self) {
        self.db_statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one job attempt by how it ended.
    pub fn record_job(&self, outcome: JobOutcome) {
        self.jobs[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Job attempts that ended this way so far.
    pub fn jobs(&self, outcome: JobOutcome) -> u64 {
        self.jobs[outcome as usize].load(Ordering::Relaxed)
    }

    /// SQL statements sent so far.
    pub fn db_statements(&self) -> u64 {
        self.db_statements.load(Ordering::Relaxed)
    }

    /// GraphQL operations of a kind served so far.
    pub fn operations(&self, kind: OperationKind) -> u64 {
        self.graphql_requests[kind.index()].load(Ordering::Relaxed)
    }

    /// Renders everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP platform_api_graphql_requests_total GraphQL operations served."
        )?;
        writeln!(out, "# TYPE platform_api_graphql_requests_total counter")?;
        for kind in OperationKind::ALL {
            let n = self.graphql_requests[kind.index()].load(Ordering::Relaxed);
            writeln!(
                out,
                "platform_api_graphql_requests_total{{operation=\"{}\"}} {n}",
                kind.label()
            )?;
        }
        writeln!(
            out,
            "# HELP platform_api_graphql_errors_total GraphQL operations answered with errors."
        )?;
        writeln!(out, "# TYPE platform_api_graphql_errors_total counter")?;
        for kind in OperationKind::ALL {
            let n = self.graphql_errors[kind.index()].load(Ordering::Relaxed);
            writeln!(
                out,
                "platform_api_graphql_errors_total{{operation=\"{}\"}} {n}",
                kind.label()
            )?;
        }
        let name = "platform_api_graphql_request_duration_seconds";
        writeln!(out, "# HELP {name} Time to answer one GraphQL operation.")?;
        writeln!(out, "# TYPE {name} histogram")?;
        for kind in OperationKind::ALL {
            let h = &self.graphql_latency[kind.index()];
            let label = kind.label();
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                let n = bucket.load(Ordering::Relaxed);
                writeln!(
                    out,
                    "{name}_bucket{{operation=\"{label}\",le=\"{bound}\"}} {n}"
                )?;
            }
            let count = h.count.load(Ordering::Relaxed);
            writeln!(
                out,
                "{name}_bucket{{operation=\"{label}\",le=\"+Inf\"}} {count}"
            )?;
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            writeln!(out, "{name}_sum{{operation=\"{label}\"}} {sum}")?;
            writeln!(out, "{name}_count{{operation=\"{label}\"}} {count}")?;
        }
        writeln!(
            out,
            "# HELP platform_api_db_statements_total SQL statements sent to PostgreSQL."
        )?;
        writeln!(out, "# TYPE platform_api_db_statements_total counter")?;
        writeln!(
            out,
            "platform_api_db_statements_total {}",
            self.db_statements()
        )?;
        writeln!(
            out,
            "# HELP platform_api_anonymous_mutations_total Mutations refused for want of valid credentials (not audited)."
        )?;
        writeln!(out, "# TYPE platform_api_anonymous_mutations_total counter")?;
        writeln!(
            out,
            "platform_api_anonymous_mutations_total {}",
            self.anonymous_mutations()
        )?;
        writeln!(
            out,
            "# HELP platform_api_jobs_total Job attempts by how they ended."
        )?;
        writeln!(out, "# TYPE platform_api_jobs_total counter")?;
        for outcome in JobOutcome::ALL {
            writeln!(
                out,
                "platform_api_jobs_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                self.jobs(outcome)
            )?;
        }
        self.websocket.render_into(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record_operation(OperationKind::Query, Duration::from_micros(500), false);
        m.record_operation(OperationKind::Query, Duration::from_millis(30), true);
        let text = m.render();
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("{needle}\n{text}"))
                .to_owned()
        };
        assert!(line("platform_api_graphql_request_duration_seconds_bucket{operation=\"query\",le=\"0.001\"}").ends_with(" 1"));
        assert!(line("platform_api_graphql_request_duration_seconds_bucket{operation=\"query\",le=\"0.05\"}").ends_with(" 2"));
        assert!(line("platform_api_graphql_request_duration_seconds_bucket{operation=\"query\",le=\"+Inf\"}").ends_with(" 2"));
        assert!(line("platform_api_graphql_requests_total{operation=\"query\"}").ends_with(" 2"));
        assert!(line("platform_api_graphql_errors_total{operation=\"query\"}").ends_with(" 1"));
        assert!(
            line("platform_api_graphql_requests_total{operation=\"mutation\"}").ends_with(" 0")
        );
    }

    #[test]
    fn statements_are_counted() {
        let m = Metrics::default();
        m.record_statement();
        m.record_statement();
        assert_eq!(m.db_statements(), 2);
        assert!(m.render().contains("platform_api_db_statements_total 2\n"));
    }

    #[test]
    fn websocket_gauges_and_closes() {
        let m = Metrics::default();
        m.websocket.connection_opened();
        m.websocket.operations_started(3);
        m.websocket.operations_ended(1);
        m.websocket.record_close(1008);
        m.websocket.record_close(4242);
        let text = m.render();
        assert!(
            text.contains("platform_api_websocket_connections 1\n"),
            "{text}"
        );
        assert!(
            text.contains("platform_api_websocket_operations 2\n"),
            "{text}"
        );
        assert!(text.contains("platform_api_websocket_closes_total{code=\"1008\"} 1\n"));
        assert!(text.contains("platform_api_websocket_closes_total{code=\"4409\"} 0\n"));
        assert_eq!(m.websocket.closes(4242), 0);
    }
}
