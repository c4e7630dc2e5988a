//! The recheck benchmark (`bench/domains.sh`; ignored by `cargo test`): `BENCH_DOMAINS`
//! domains (default 10,000), each with MX, SPF, DKIM, DMARC and ownership records on the
//! loopback DNS server, rechecked by the `domain_recheck` job of one app (two workers).
//! Prints checks per second, statements per check (every statement of the app's pool during
//! the run, job claims included), the peak of DNS queries in flight (asserted never above
//! `DNS_MAX_INFLIGHT`), and the latency per check (p50/p99: each check's DNS questions, all
//! at once, as the job runs them, timed one by one in a second pass).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hickory_proto::rr::RecordType;
use platform_api::db::schema::domains;
use platform_api::domain::domains::DomainRow;
use platform_api::domain::domains::verify;
use platform_api::upstream::dns::DnsClient;

use super::dns_server::{Answer, DnsServer};
use crate::provisioning::quick_jobs;
use crate::support::tables::count;
use crate::support::{TestApp, World};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it with bench/domains.sh"]
async fn recheck_many_domains() {
    let n = env("BENCH_DOMAINS", 10_000);
    let inflight = env("BENCH_DNS_MAX_INFLIGHT", 64);
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = TestApp::spawn_with(|c| {
        c.domains.dns.resolvers = vec![addr];
        c.domains.dns.max_inflight = inflight;
        c.domains.dns.timeout = Duration::from_secs(2);
        quick_jobs(c, 2);
    })
    .await;
    let w = World::new().tenant("acme").build(app).await;
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "INSERT INTO domains (tenant_id, name, status, next_check_at, published)
         SELECT t.id, 'd' || i || '.example', 'verified', now() + interval '1 hour',
                jsonb_build_array(
                  jsonb_build_object('kind', 'mx', 'name', 'd' || i || '.example',
                                     'value', '10 mail.d' || i || '.example'),
                  jsonb_build_object('kind', 'spf', 'name', 'd' || i || '.example',
                                     'value', 'v=spf1 mx -all'),
                  jsonb_build_object('kind', 'dkim', 'name', 's1._domainkey.d' || i || '.example',
                                     'value', 'v=DKIM1; k=ed25519; p=' || md5(i::text)))
           FROM tenants t, generate_series(1, {n}) i"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let rows: Vec<DomainRow> = domains::table
        .select(DomainRow::as_select())
        .load(&mut conn)
        .await
        .unwrap();
    // The zone publishes exactly what each domain expects (the DKIM key as seeded).
    for row in &rows {
        let name = &row.name;
        dns.set(
            name,
            RecordType::MX,
            Answer::Mx(vec![(10, format!("mail.{name}"))]),
        );
        dns.txt(name, &["v=spf1 mx -all", &row.ownership_token]);
        for record in row.published() {
            if record.kind == platform_api::domain::domains::RecordKind::Dkim {
                dns.txt(&record.name, &[&record.value]);
            }
        }
        dns.txt(&format!("_dmarc.{name}"), &["v=DMARC1; p=none"]);
    }
    // End to end: every domain due, one recheck run through the job queue.
    diesel::sql_query("UPDATE domains SET next_check_at = now()")
        .execute(&mut conn)
        .await
        .unwrap();
    dns.clear_queries();
    let statements = w.statements();
    let started = Instant::now();
    platform_api::jobs::domains::recheck::queue_run(&mut conn, Duration::ZERO)
        .await
        .unwrap();
    while count(
        &mut conn,
        "domains WHERE next_check_at <= now() + interval '1 hour'",
    )
    .await
        > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let statements = w.statements() - statements;
    let verified = count(&mut conn, "domains WHERE status = 'verified'").await;
    assert_eq!(verified, i64::try_from(n).unwrap(), "every check passed");
    let queries = dns.queries().len();
    let peak = dns.peak_inflight();
    assert!(
        peak <= inflight,
        "peak {peak} > DNS_MAX_INFLIGHT {inflight}"
    );

    // Latency per check: the same checks, timed one by one, as concurrent as in the job.
    let client = DnsClient::new(&w.state.config.domains.dns).unwrap();
    let mut latencies = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(w.state.config.domains.batch) {
        let timed = futures_util::future::join_all(chunk.iter().map(|row| {
            let client = &client;
            async move {
                let t = Instant::now();
                let checked = verify::check(client, row, &[], 3).await;
                assert_eq!(
                    checked.outcome,
                    platform_api::domain::domains::check::Outcome::Pass
                );
                t.elapsed()
            }
        }))
        .await;
        latencies.extend(timed);
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "domains bench: {n} domains, DNS_MAX_INFLIGHT {inflight}\n\
         checks/s            {:.0}\n\
         elapsed             {:.2} s\n\
         SQL statements/check {:.3} ({statements} in all)\n\
         DNS queries/check   {:.2}\n\
         peak DNS in flight  {peak} (server side), {} (client side)\n\
         latency per check   p50 {:.2} ms, p99 {:.2} ms",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        statements as f64 / n as f64,
        queries as f64 / n as f64,
        client.peak_inflight(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
}
