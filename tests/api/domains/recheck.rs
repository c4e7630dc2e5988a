//! The scheduled recheck: claimed through the job queue, so with two app instances on one
//! database each domain is checked once (counted at the loopback DNS server).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use hickory_proto::rr::RecordType;

use super::dns_server::{Answer, DnsServer};
use crate::provisioning::quick_jobs;
use crate::support::tables::count;
use crate::support::{TestApp, World};

const DOMAINS: usize = 30;

#[tokio::test]
async fn two_instances_check_each_due_domain_once() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let settings = move |c: &mut platform_api::config::Config| {
        c.domains.dns.resolvers = vec![addr];
        c.domains.dns.timeout = Duration::from_millis(500);
        c.domains.batch = 7;
    };
    // Arranged with no workers; the domains are due at once (next_check_at = now).
    let app = TestApp::spawn_with(settings).await;
    let w = World::new().tenant("acme").build(app).await;
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "INSERT INTO domains (tenant_id, name, published)
         SELECT t.id, 'd' || n || '.example',
                jsonb_build_array(jsonb_build_object('kind', 'spf', 'name', 'd' || n || '.example',
                                                     'value', 'v=spf1 mx -all'))
           FROM tenants t, generate_series(1, {DOMAINS}) n"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        ownership_token: String,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT name, ownership_token FROM domains")
        .load(&mut conn)
        .await
        .unwrap();
    for row in &rows {
        dns.txt(&row.name, &["v=spf1 mx -all", &row.ownership_token]);
        dns.txt(&format!("_dmarc.{}", row.name), &["v=DMARC1; p=none"]);
    }
    dns.set("d1.example", RecordType::TXT, Answer::ServFail);
    // Two replicas with two workers each; at start each queues the recheck (one survives).
    let first = w
        .spawn_sibling(|c| {
            settings(c);
            quick_jobs(c, 2);
        })
        .await;
    let second = w
        .spawn_sibling(|c| {
            settings(c);
            quick_jobs(c, 2);
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&mut conn, "domains WHERE last_checked_at IS NULL").await > 0 {
        assert!(Instant::now() < deadline, "every domain is checked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let any duplicate show itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The resolver itself asks a SERVFAILing question again (hickory retries a server error);
    // that is one check's question, so it is left out of the count. The domain's other
    // question shows it was checked once.
    let mut per_question: HashMap<(String, RecordType), usize> = HashMap::new();
    for q in dns.queries().into_iter().filter(|q| q.name != "d1.example") {
        *per_question.entry((q.name, q.kind)).or_default() += 1;
    }
    assert_eq!(
        per_question[&("_dmarc.d1.example".to_owned(), RecordType::TXT)],
        1
    );
    assert_eq!(
        per_question.len(),
        DOMAINS * 2 - 1,
        "apex TXT and DMARC TXT of each domain (but d1's apex)"
    );
    assert!(
        per_question.values().all(|n| *n == 1),
        "each question asked once: {per_question:?}"
    );
    assert_eq!(
        count(&mut conn, "domains WHERE status = 'verified'").await,
        i64::try_from(DOMAINS - 1).unwrap()
    );
    assert_eq!(
        count(
            &mut conn,
            "domains WHERE name = 'd1.example' AND status = 'pending_verification'"
        )
        .await,
        1,
        "SERVFAIL proves nothing"
    );
    // Next checks are spread around the interval (6 h ± 10 %), none due now.
    assert_eq!(
        count(
            &mut conn,
            "domains WHERE next_check_at < now() + interval '5 hours 20 minutes'
                        OR next_check_at > now() + interval '6 hours 40 minutes'"
        )
        .await,
        0
    );
    // One recheck job at a time: at most one queued or running.
    assert!(
        count(
            &mut conn,
            "jobs WHERE kind = 'domain_recheck' AND status IN ('queued', 'running')"
        )
        .await
            <= 1
    );
    drop((first, second));
}

#[tokio::test]
async fn queries_in_flight_never_exceed_dns_max_inflight() {
    let dns = DnsServer::start().await;
    dns.delay_answers(Duration::from_millis(50));
    let addr = dns.addr;
    let app = TestApp::spawn_with(|c| {
        c.domains.dns.resolvers = vec![addr];
        c.domains.dns.max_inflight = 3;
        quick_jobs(c, 1);
    })
    .await;
    let w = World::new().tenant("acme").build(app).await;
    let mut conn = w.db.connect().await;
    diesel::sql_query(
        "INSERT INTO domains (tenant_id, name)
         SELECT t.id, 'd' || n || '.example' FROM tenants t, generate_series(1, 12) n",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    platform_api::jobs::domains::recheck::queue_run(&mut conn, Duration::ZERO)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&mut conn, "domains WHERE last_checked_at IS NULL").await > 0 {
        assert!(Instant::now() < deadline, "every domain is checked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 12 domains × 2 questions, answered 50 ms late: they overlap, but never more than 3.
    assert_eq!(dns.queries().len(), 24);
    assert_eq!(dns.peak_inflight(), 3, "bounded, and the bound is used");
}
