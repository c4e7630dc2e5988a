//! The `graph` scenario: fixed GraphQL operations against platform-api (or the Q2
//! equivalent against the peer), at c=1 on a constant-rate schedule and at c=N back to back,
//! with statements per request, server CPU per request and RSS.
//!
//! Who each virtual user is follows bench/seed.sql (keep the two in step):
//! users 1..10000 own tenants 1..10000; users 10001..20000 are their admins and the rest
//! members (user u belongs to tenant 1 + (u-1) % 10000); users 1..64 are platform admins;
//! users 90001..90500 are partner staff (five per partner, the first an admin).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::{Conn, Prepared, get_text};
use crate::load::{self, RequestFor, RunStats};
use crate::procstat::{self, CpuMeter};
use crate::tokens::{DevSigner, OPERATOR, PORTAL};

/// Subject of seeded user `n` (1-based).
pub fn subject(n: usize) -> String {
    format!("bench-user-{n}")
}

/// Slug of seeded tenant `n` (1-based).
pub fn tenant_slug(n: usize) -> String {
    format!("tenant-{n:05}")
}

/// Slug of seeded partner `n` (1-based).
pub fn partner_slug(n: usize) -> String {
    format!("partner-{n:03}")
}

/// The tenant seeded user `u` is a member of.
pub fn tenant_of_user(u: usize) -> usize {
    1 + (u - 1) % 10_000
}

/// An operation: its name, what it exercises, and the request of each virtual user.
pub struct Operation {
    pub name: &'static str,
    pub description: &'static str,
    /// (subject, audience, variables) of virtual user `vu`.
    who: fn(usize) -> (String, &'static str, Value),
    query: &'static str,
    /// Changes the variables per send (mutations need a new value each time).
    vary: Option<fn(&mut Value, usize, u64, u64)>,
}

const Q1: &str = "query Q1($slug: String!) { tenant(slug: $slug) { name status } }";
const Q2: &str = "query Q2 { tenants(first: 20) { nodes { partner { name } \
                  members(first: 10) { nodes { user { email } } } } } }";
const Q3: &str = "query Q3 { partners(first: 50) { nodes { customerCount \
                  mrr { amountMinor currency } tenants(first: 10) { nodes { name } } } } }";
const Q4: &str = "query Q4($tenant: String!, $before: DateTime!) { \
                  auditEvents(filter: { tenant: $tenant, before: $before }, first: 50) { \
                  nodes { at action outcome actorEmail targetType targetId } } }";
const M1: &str = "mutation M1($tenant: String!, $name: String!) { \
                  updateTenant(input: { tenant: $tenant, name: $name }) { tenant { name } } }";
const R1: &str = "query R1($partner: String!) { partnerReport(partner: $partner) { \
                  healthCohorts { band count tenants { slug score } } } }";
const R2: &str = "query R2($partner: String!) { partnerReport(partner: $partner) { \
                  revenueByPlan { plan currency subscriptions mrrMinor } \
                  topCustomers(first: 10) { slug currency mrrMinor } } }";
const R3: &str = "query R3($partner: String!) { partnerReport(partner: $partner) { \
                  cohorts { month signups churned net } } }";
const R4: &str = "query R4 { platformReport { mrr { currency mrrMinor } \
                  revenueByPlan { plan currency subscriptions mrrMinor } \
                  topTenants(first: 10) { slug currency mrrMinor } } }";
const R5: &str = "query R5($from: DateTime!, $to: DateTime!) { \
                  platformReport(period: { from: $from, to: $to }) { \
                  growth { month signups churned net } } }";
const H1: &str = "query H1 { tenants(first: 100) { nodes { slug \
                  health { score band reasons { code weight } } } } }";
/// The peer's Q2: PostGraphile's inflection of the same shape (a partner's first 20 tenants
/// by slug, each with its partner's name and 10 members' emails).
const PEER_Q2: &str = "query Q2($partner: String!) { allPartners(condition: { slug: $partner }) { \
                       nodes { tenantsByPartnerId(first: 20, orderBy: SLUG_ASC) { nodes { \
                       partnerByPartnerId { name } membershipsByTenantId(first: 10) { \
                       nodes { userByUserId { email } } } } } } } }";

/// Half way back through the seeded log (it spans 2024-06-01 .. 2025-01-16).
const DEEP: &str = "2024-09-24T00:00:00Z";

/// The operations against platform-api, in table order.
pub fn operations() -> Vec<Operation> {
    vec![
        Operation {
            name: "Q1",
            description: "tenant(slug){name status}, a member of the tenant",
            who: |vu| {
                let u = 20_001 + vu;
                (
                    subject(u),
                    PORTAL,
                    json!({ "slug": tenant_slug(tenant_of_user(u)) }),
                )
            },
            query: Q1,
            vary: None,
        },
        Operation {
            name: "Q2",
            description: "tenants(first:20){partner{name} members(first:10){user{email}}}, partner staff",
            who: |vu| (subject(90_001 + vu * 5), PORTAL, json!({})),
            query: Q2,
            vary: None,
        },
        Operation {
            name: "Q3",
            description: "partners(first:50){customerCount mrr tenants(first:10){name}}, operator",
            who: |vu| (subject(1 + vu), OPERATOR, json!({})),
            query: Q3,
            vary: None,
        },
        Operation {
            name: "Q4",
            description: "auditEvents(filter:{tenant, before: mid-log}, first:50), tenant owner",
            who: |vu| {
                let u = 1_001 + vu;
                (
                    subject(u),
                    PORTAL,
                    json!({ "tenant": tenant_slug(u), "before": DEEP }),
                )
            },
            query: Q4,
            vary: None,
        },
        Operation {
            name: "M1",
            description: "updateTenant(name) (write + audit row), tenant owner",
            who: |vu| {
                let u = 2_001 + vu;
                (
                    subject(u),
                    PORTAL,
                    json!({ "tenant": tenant_slug(u), "name": "" }),
                )
            },
            query: M1,
            vary: Some(|vars, vu, n, nonce| {
                vars["name"] = json!(format!("Tenant {} r{nonce}-{n}", 2_001 + vu));
            }),
        },
        Operation {
            name: "R1",
            description: "partnerReport{healthCohorts} (100 tenants' health), partner staff",
            who: |vu| {
                (
                    subject(90_001 + vu * 5),
                    PORTAL,
                    json!({ "partner": partner_slug(1 + vu) }),
                )
            },
            query: R1,
            vary: None,
        },
        Operation {
            name: "R2",
            description: "partnerReport{revenueByPlan topCustomers(10)}, partner staff",
            who: |vu| {
                (
                    subject(90_001 + vu * 5),
                    PORTAL,
                    json!({ "partner": partner_slug(1 + vu) }),
                )
            },
            query: R2,
            vary: None,
        },
        Operation {
            name: "R3",
            description: "partnerReport{cohorts} (12 months), partner staff",
            who: |vu| {
                (
                    subject(90_001 + vu * 5),
                    PORTAL,
                    json!({ "partner": partner_slug(1 + vu) }),
                )
            },
            query: R3,
            vary: None,
        },
        Operation {
            name: "R4",
            description: "platformReport{mrr revenueByPlan topTenants(10)}, operator",
            who: |vu| (subject(1 + vu), OPERATOR, json!({})),
            query: R4,
            vary: None,
        },
        Operation {
            name: "R5",
            description: "platformReport{growth} over the seeded log's months, operator",
            who: |vu| {
                (
                    subject(1 + vu),
                    OPERATOR,
                    json!({ "from": "2024-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z" }),
                )
            },
            query: R5,
            vary: None,
        },
        Operation {
            name: "H1",
            description: "tenants(first:100){health{score band reasons}}, operator",
            who: |vu| (subject(1 + vu), OPERATOR, json!({})),
            query: H1,
            vary: None,
        },
    ]
}

/// The peer's operations (PostGraphile has no authorisation here: it reads as its role).
pub fn peer_operations() -> Vec<Operation> {
    vec![Operation {
        name: "Q2",
        description: "the Q2 shape in PostGraphile's inflection",
        who: |vu| {
            (
                String::new(),
                "",
                json!({ "partner": partner_slug(1 + vu) }),
            )
        },
        query: PEER_Q2,
        vary: None,
    }]
}

/// Where and as whom to run.
pub struct Target {
    pub addr: String,
    pub path: String,
    /// `None` for the peer (no tokens).
    pub signer: Option<DevSigner>,
    pub metrics_url: Option<String>,
    pub server_pid: Option<u32>,
    pub db_ppid: Option<u32>,
}

/// How long and how hard.
pub struct Plan {
    pub rate: f64,
    pub c1: Duration,
    pub concurrency: usize,
    pub cn: Duration,
    pub warmup: Duration,
}

#[derive(Serialize)]
pub struct OpResult {
    pub description: &'static str,
    /// SQL statements per request (platform_api_db_statements_total over the c=1 run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements_per_request: Option<f64>,
    pub c1: RunStats,
    pub cn: RunStats,
    /// Server CPU (utime+stime) per request over the c=N run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_request: Option<f64>,
    /// Requests per CPU-second of the server process over the c=N run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_cpu_second: Option<f64>,
    /// PostgreSQL backends' CPU per request over the c=N run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_cpu_ms_per_request: Option<f64>,
}

fn requests_of(target: &Target, op: &Operation, count: usize) -> anyhow::Result<RequestFor> {
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let mut per_vu = Vec::with_capacity(count);
    for vu in 0..count {
        let (sub, aud, vars) = (op.who)(vu);
        let authorization = match &target.signer {
            Some(signer) => Some(format!("Bearer {}", signer.sign(&sub, aud)?)),
            None => None,
        };
        per_vu.push((authorization, vars));
    }
    let path = target.path.clone();
    let query = op.query;
    let vary = op.vary;
    // Bodies are serialised up front unless they change per send.
    let fixed: Vec<Bytes> = per_vu
        .iter()
        .map(|(_, vars)| Bytes::from(json!({ "query": query, "variables": vars }).to_string()))
        .collect();
    Ok(Arc::new(move |vu: usize, n: u64| {
        let (authorization, vars) = &per_vu[vu];
        let body = match vary {
            None => fixed[vu].clone(),
            Some(vary) => {
                let mut vars = vars.clone();
                vary(&mut vars, vu, n, nonce);
                Bytes::from(json!({ "query": query, "variables": vars }).to_string())
            }
        };
        Prepared {
            path: path.clone(),
            authorization: authorization.clone(),
            body,
        }
    }))
}

/// Sends one request of `op` as virtual user 0 and returns the answer (statement capture,
/// smoke checks).
pub async fn once(target: &Target, op: &Operation) -> anyhow::Result<String> {
    let request = requests_of(target, op, 1)?;
    let mut conn = Conn::open(&target.addr).await?;
    let (status, body) = conn.send(&request(0, 0)).await?;
    let text = String::from_utf8_lossy(&body).into_owned();
    anyhow::ensure!(
        crate::http::is_success(status, &body),
        "{} failed: {status} {text}",
        op.name
    );
    Ok(text)
}

async fn statements(target: &Target) -> Option<f64> {
    let url = target.metrics_url.as_ref()?;
    let text = get_text(url).await.ok()?;
    text.lines()
        .find(|l| l.starts_with("platform_api_db_statements_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// Runs every operation of `ops` under `plan`.
pub async fn run(
    target: &Target,
    ops: &[Operation],
    plan: &Plan,
) -> anyhow::Result<BTreeMap<&'static str, OpResult>> {
    let mut results = BTreeMap::new();
    for op in ops {
        let request = requests_of(target, op, plan.concurrency.max(1))?;
        eprintln!("  {}: warm-up {:?}", op.name, plan.warmup);
        once(target, op).await?;
        load::closed_loop(
            &target.addr,
            Arc::clone(&request),
            plan.concurrency,
            plan.warmup,
        )
        .await?;

        eprintln!("  {}: c=1 at {}/s for {:?}", op.name, plan.rate, plan.c1);
        let before = statements(target).await;
        let c1 = load::open_loop(&target.addr, Arc::clone(&request), plan.rate, plan.c1).await?;
        let after = statements(target).await;
        let statements_per_request = match (before, after) {
            (Some(b), Some(a)) if c1.requests > 0 => Some((a - b) / c1.requests as f64),
            _ => None,
        };

        eprintln!("  {}: c={} for {:?}", op.name, plan.concurrency, plan.cn);
        let meter = CpuMeter::start(target.server_pid, target.db_ppid);
        let cn = load::closed_loop(&target.addr, request, plan.concurrency, plan.cn).await?;
        let (cpu, db_cpu) = meter.stop();
        let per = |ms: Option<f64>| {
            ms.filter(|_| cn.requests > 0)
                .map(|ms| ms / cn.requests as f64)
        };
        eprintln!(
            "  {}: p50 {:.3} ms, p99 {:.3} ms at c=1; {:.0} req/s at c={} ({} errors)",
            op.name,
            c1.p50_ms,
            c1.p99_ms,
            cn.throughput,
            plan.concurrency,
            c1.errors + cn.errors
        );
        if let Some(e) = c1.first_error.as_ref().or(cn.first_error.as_ref()) {
            eprintln!("  {}: first error: {e}", op.name);
        }
        results.insert(
            op.name,
            OpResult {
                description: op.description,
                statements_per_request,
                cpu_ms_per_request: per(cpu),
                requests_per_cpu_second: cpu
                    .filter(|ms| *ms > 0.0)
                    .map(|ms| cn.requests as f64 / (ms / 1000.0)),
                db_cpu_ms_per_request: per(db_cpu),
                c1,
                cn,
            },
        );
    }
    Ok(results)
}

/// The server's resident set now, in KiB.
pub fn rss(target: &Target) -> Option<u64> {
    target.server_pid.and_then(|p| procstat::rss_kib(p).ok())
}
