//! DNS verification against the loopback DNS server (real wire format, UDP and TCP), one zone
//! per test, through `recheckDomain`: the record rules, TCP fallback, UNKNOWN on SERVFAIL and
//! timeouts, the hysteresis, and an internationalised name.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use super::dns_server::{Answer, DnsServer, Transport};
use super::{code, domain_row};
use crate::support::tables::count;
use crate::support::{Role, TestApp, World};

const RECHECK: &str = r#"
mutation($input: DomainRefInput!) {
  recheckDomain(input: $input) {
    domain {
      name status consecutiveFailures lastCheckedAt
      records { type name expected actual status reason overridden }
    }
  }
}"#;

const OVERRIDE: &str = r#"
mutation($input: OverrideDomainRecordInput!) {
  overrideDomainRecord(input: $input) {
    domain { status records { type name actual status reason overridden } }
  }
}"#;

/// The DKIM key the mail server publishes in these tests (long enough to need splitting).
fn dkim_key() -> String {
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".to_owned() + &"q".repeat(300)
}

fn dkim_value() -> String {
    format!("v=DKIM1; k=rsa; h=sha256; p={}", dkim_key())
}

/// A world whose verifier asks `dns` only; `acme` with admin `tadmin`.
async fn world(dns: &DnsServer) -> World {
    let addr = dns.addr;
    let app = TestApp::spawn_with(|c| {
        c.domains.dns.resolvers = vec![addr];
        c.domains.dns.timeout = Duration::from_millis(400);
        c.domains.failing_after = 3;
    })
    .await;
    World::new()
        .tenant("acme")
        .member("tadmin", "acme", Role::Admin)
        .member("member", "acme", Role::Member)
        .operator("root")
        .build(app)
        .await
}

/// A domain of acme in `status` with the mail server's MX, SPF and DKIM records; returns its
/// ownership token.
async fn domain(w: &World, name: &str, status: &str) -> String {
    domain_row(w, "acme", name, status, Some("d1")).await;
    let published = json!([
        { "kind": "mx", "name": name, "value": format!("10 mail.{name}") },
        { "kind": "spf", "name": name, "value": "v=spf1 mx -all" },
        { "kind": "dkim", "name": format!("s1._domainkey.{name}"), "value": dkim_value() },
    ]);
    let mut conn = w.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Token {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ownership_token: String,
    }
    let token: Token = diesel::sql_query(
        "UPDATE domains SET published = $1 WHERE name = $2 RETURNING ownership_token",
    )
    .bind::<diesel::sql_types::Jsonb, _>(published)
    .bind::<diesel::sql_types::Text, _>(name)
    .get_result(&mut conn)
    .await
    .unwrap();
    token.ownership_token
}

/// Publishes every record `name` should have, correctly, the DKIM key in one string.
fn publish(dns: &DnsServer, name: &str, token: &str) {
    dns.set(
        name,
        RecordType::MX,
        Answer::Mx(vec![(10, format!("mail.{name}"))]),
    );
    dns.txt(
        name,
        &["v=spf1 mx -all", token, "google-site-verification=x"],
    );
    dns.set(
        &format!("s1._domainkey.{name}"),
        RecordType::TXT,
        Answer::Txt(vec![vec![
            dkim_value()[..200].to_owned(),
            dkim_value()[200..].to_owned(),
        ]]),
    );
    dns.txt(&format!("_dmarc.{name}"), &["v=DMARC1; p=none"]);
}

/// Runs `recheckDomain` as tadmin (first letting a minute pass, as far as the rate limit
/// knows); returns the domain.
async fn recheck(w: &World, name: &str) -> Value {
    let mut conn = w.db.connect().await;
    diesel::sql_query(
        "UPDATE domains SET last_checked_at = last_checked_at - interval '2 minutes'
          WHERE last_checked_at IS NOT NULL",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let body = w
        .query_with(
            "tadmin",
            RECHECK,
            json!({ "input": { "tenant": "acme", "domain": name } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["recheckDomain"]["domain"].clone()
}

fn record<'a>(domain: &'a Value, kind: &str) -> &'a Value {
    domain["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} record: {domain}"))
}

#[tokio::test]
async fn every_record_passes_and_the_domain_is_verified() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "pending_verification").await;
    publish(&dns, "acme.example", &token);
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(domain["status"], "VERIFIED", "{domain}");
    let kinds: Vec<_> = domain["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("MX", "OK"),
            ("SPF", "OK"),
            ("DKIM", "OK"),
            ("DMARC", "OK"),
            ("OWNERSHIP", "OK")
        ]
    );
    // The DKIM key was published in two strings: shown joined.
    assert_eq!(record(&domain, "DKIM")["actual"], dkim_value());
    assert_eq!(record(&domain, "SPF")["actual"], "v=spf1 mx -all");
    assert_eq!(record(&domain, "MX")["actual"], "10 mail.acme.example");
    // One query per distinct name and type: MX and TXT at the apex, DKIM, DMARC.
    let queries = dns.queries();
    assert_eq!(queries.len(), 4, "{queries:?}");
    // Asked again within the minute: refused as a rate-limited request (429 with an honest
    // Retry-After, as every rate limit), nothing asked.
    dns.clear_queries();
    let response = w
        .client
        .post(w.url("/graphql"))
        .bearer_auth(w.token("tadmin"))
        .json(&json!({
            "query": RECHECK,
            "variables": { "input": { "tenant": "acme", "domain": "acme.example" } },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    assert!(dns.queries().is_empty());
    // A member may not ask; only the audit row is written, nothing is asked.
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE domains SET last_checked_at = now() - interval '2 minutes'")
        .execute(&mut conn)
        .await
        .unwrap();
    for (who, code) in [(Some("member"), "FORBIDDEN"), (None, "UNAUTHENTICATED")] {
        w.denied(
            who,
            RECHECK,
            json!({ "input": { "tenant": "acme", "domain": "acme.example" } }),
            "domain.recheck",
            code,
        )
        .await;
    }
    w.invalid(
        "tadmin",
        RECHECK,
        json!({ "input": { "tenant": "acme", "domain": "not a domain" } }),
        "domain.recheck",
        "input.domain",
    )
    .await;
    assert!(dns.queries().is_empty());
}

#[tokio::test]
async fn a_missing_dkim_key_fails_the_check() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "verified").await;
    publish(&dns, "acme.example", &token);
    dns.remove("s1._domainkey.acme.example", RecordType::TXT);
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(record(&domain, "DKIM")["status"], "MISSING");
    assert_eq!(record(&domain, "SPF")["status"], "OK");
    assert_eq!(domain["status"], "DEGRADED");
    assert_eq!(domain["consecutiveFailures"], 1);
}

#[tokio::test]
async fn two_spf_records_are_a_permerror() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "pending_verification").await;
    publish(&dns, "acme.example", &token);
    dns.txt(
        "acme.example",
        &[
            "v=spf1 mx -all",
            "v=spf1 include:other.example -all",
            &token,
        ],
    );
    let domain = recheck(&w, "acme.example").await;
    let spf = record(&domain, "SPF");
    assert_eq!(spf["status"], "MISMATCH");
    assert_eq!(spf["reason"], "two SPF records: permerror");
    assert_eq!(
        spf["actual"],
        "v=spf1 mx -all\nv=spf1 include:other.example -all"
    );
    assert_eq!(record(&domain, "OWNERSHIP")["status"], "OK");
    assert_eq!(
        domain["status"], "PENDING_VERIFICATION",
        "never verified yet"
    );
}

#[tokio::test]
async fn dmarc_with_v_not_first_is_a_mismatch() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "pending_verification").await;
    publish(&dns, "acme.example", &token);
    dns.txt("_dmarc.acme.example", &["p=none; v=DMARC1"]);
    let domain = recheck(&w, "acme.example").await;
    let dmarc = record(&domain, "DMARC");
    assert_eq!(dmarc["status"], "MISMATCH");
    assert_eq!(dmarc["reason"], "v=DMARC1 must be the first tag");
    assert_eq!(dmarc["actual"], "p=none; v=DMARC1");
}

#[tokio::test]
async fn a_dkim_key_split_across_three_strings_is_joined() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "pending_verification").await;
    publish(&dns, "acme.example", &token);
    let value = dkim_value();
    dns.set(
        "s1._domainkey.acme.example",
        RecordType::TXT,
        Answer::Txt(vec![vec![
            value[..100].to_owned(),
            value[100..250].to_owned(),
            value[250..].to_owned(),
        ]]),
    );
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(record(&domain, "DKIM")["status"], "OK", "{domain}");
    assert_eq!(record(&domain, "DKIM")["actual"], value);
    assert_eq!(domain["status"], "VERIFIED");
    // Split in the middle of the key with a space before the second string: still the same
    // key (whitespace inside p= is ignored).
    dns.set(
        "s1._domainkey.acme.example",
        RecordType::TXT,
        Answer::Txt(vec![vec![
            value[..120].to_owned(),
            format!(" {}", &value[120..]),
        ]]),
    );
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(record(&domain, "DKIM")["status"], "OK", "{domain}");
}

#[tokio::test]
async fn a_txt_answer_too_large_for_udp_is_read_over_tcp() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "pending_verification").await;
    publish(&dns, "acme.example", &token);
    // Many other TXT records at the apex: the answer outgrows any UDP payload size.
    let mut apex: Vec<String> = (0..12)
        .map(|i| format!("filler-{i}={}", "x".repeat(200)))
        .collect();
    apex.push("v=spf1 mx -all".into());
    apex.push(token.clone());
    let apex: Vec<&str> = apex.iter().map(String::as_str).collect();
    dns.txt("acme.example", &apex);
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(record(&domain, "SPF")["status"], "OK", "{domain}");
    assert_eq!(record(&domain, "OWNERSHIP")["status"], "OK");
    assert_eq!(domain["status"], "VERIFIED");
    let apex_txt: Vec<Transport> = dns
        .queries()
        .into_iter()
        .filter(|q| q.name == "acme.example" && q.kind == RecordType::TXT)
        .map(|q| q.transport)
        .collect();
    assert_eq!(
        apex_txt,
        [Transport::Udp, Transport::Tcp],
        "truncated over UDP, asked again over TCP"
    );
}

#[tokio::test]
async fn servfail_and_timeouts_are_unknown_and_change_no_status() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "verified").await;
    publish(&dns, "acme.example", &token);
    dns.set("_dmarc.acme.example", RecordType::TXT, Answer::ServFail);
    dns.set(
        "s1._domainkey.acme.example",
        RecordType::TXT,
        Answer::Silent,
    );
    let domain = recheck(&w, "acme.example").await;
    let dmarc = record(&domain, "DMARC");
    let dkim = record(&domain, "DKIM");
    assert_eq!(dmarc["status"], "UNKNOWN", "{domain}");
    assert_eq!(dkim["status"], "UNKNOWN", "{domain}");
    assert!(dmarc["actual"].is_null() && dkim["actual"].is_null());
    assert!(
        dkim["reason"].as_str().unwrap().contains("in time"),
        "{dkim}"
    );
    assert_eq!(domain["status"], "VERIFIED", "not moved to a worse status");
    assert_eq!(domain["consecutiveFailures"], 0);
    // The same from DEGRADED: no step toward FAILING.
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE domains SET status = 'degraded', consecutive_failures = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(
        (
            domain["status"].as_str(),
            domain["consecutiveFailures"].as_i64()
        ),
        (Some("DEGRADED"), Some(2))
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'domain.status_changed'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn fail_fail_fail_is_failing_and_one_pass_is_verified() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "verified").await;
    publish(&dns, "acme.example", &token);
    dns.txt("acme.example", &["v=spf1 -all", &token]);
    let mut seen = vec![];
    for _ in 0..3 {
        let domain = recheck(&w, "acme.example").await;
        seen.push((
            domain["status"].as_str().unwrap().to_owned(),
            domain["consecutiveFailures"].as_i64().unwrap(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("DEGRADED".to_owned(), 1),
            ("DEGRADED".to_owned(), 2),
            ("FAILING".to_owned(), 3)
        ]
    );
    publish(&dns, "acme.example", &token);
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(domain["status"], "VERIFIED");
    assert_eq!(domain["consecutiveFailures"], 0);
    // Each change: one row by the verifier, tenant and domain named.
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'domain.status_changed'
               AND actor_email = 'system:domain-verifier' AND target_id = 'acme.example'
               AND tenant_id IS NOT NULL",
        )
        .await,
        3,
        "verified→degraded, degraded→failing, failing→verified"
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'domain.recheck' AND outcome = 'success'"
        )
        .await,
        4
    );
}

#[tokio::test]
async fn an_internationalised_domain_is_checked_under_its_ascii_name() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "xn--bcher-kva.example", "pending_verification").await;
    publish(&dns, "xn--bcher-kva.example", &token);
    // Named in Unicode by the caller.
    let domain = recheck(&w, "Bücher.example").await;
    assert_eq!(domain["name"], "xn--bcher-kva.example");
    assert_eq!(domain["status"], "VERIFIED", "{domain}");
    assert_eq!(
        record(&domain, "DMARC")["name"],
        "_dmarc.xn--bcher-kva.example"
    );
    assert!(
        dns.queries()
            .iter()
            .all(|q| q.name.ends_with("xn--bcher-kva.example")),
        "{:?}",
        dns.queries()
    );
}

#[tokio::test]
async fn an_operator_accepts_a_failing_record_until_its_value_changes() {
    let dns = DnsServer::start().await;
    let w = world(&dns).await;
    let token = domain(&w, "acme.example", "verified").await;
    publish(&dns, "acme.example", &token);
    // A quirk: the published policy is stricter than the expected one.
    dns.txt("_dmarc.acme.example", &["v=DMARC1; p=quarantine"]);
    let domain = recheck(&w, "acme.example").await;
    assert_eq!(record(&domain, "DMARC")["status"], "MISMATCH");
    assert_eq!(domain["status"], "DEGRADED");
    let input = |reason: Option<&str>, name: &str| {
        json!({ "input": { "tenant": "acme", "domain": "acme.example", "type": "DMARC",
                           "name": name, "reason": reason } })
    };
    for (who, code) in [(Some("tadmin"), "FORBIDDEN"), (None, "UNAUTHENTICATED")] {
        w.denied(
            who,
            OVERRIDE,
            input(Some("quirk"), "_dmarc.acme.example"),
            "domain.override_record",
            code,
        )
        .await;
    }
    w.invalid(
        "root",
        OVERRIDE,
        input(None, "_dmarc.acme.example"),
        "domain.override_record",
        "input.reason",
    )
    .await;
    w.invalid(
        "root",
        OVERRIDE,
        input(Some("quirk"), "_dmarc.other.example"),
        "domain.override_record",
        "input.name",
    )
    .await;
    let body = w
        .allowed(
            "root",
            OVERRIDE,
            input(Some("resolver adds p=quarantine"), "_dmarc.acme.example"),
            "domain.override_record",
        )
        .await;
    let shown = record(&body["data"]["overrideDomainRecord"]["domain"], "DMARC").clone();
    assert_eq!(
        (&shown["status"], &shown["overridden"]),
        (&json!("OK"), &json!(true))
    );
    // The next check passes on it.
    let domain = recheck(&w, "acme.example").await;
    let dmarc = record(&domain, "DMARC");
    assert_eq!(
        (&dmarc["status"], &dmarc["overridden"]),
        (&json!("OK"), &json!(true))
    );
    assert_eq!(dmarc["reason"], "overridden: resolver adds p=quarantine");
    assert_eq!(domain["status"], "VERIFIED");
    // Another value is not what was accepted: it fails again.
    dns.txt("_dmarc.acme.example", &["v=DMARC1; p=reject"]);
    let domain = recheck(&w, "acme.example").await;
    let dmarc = record(&domain, "DMARC");
    assert_eq!(
        (&dmarc["status"], &dmarc["overridden"]),
        (&json!("MISMATCH"), &json!(false))
    );
    assert_eq!(domain["status"], "DEGRADED");
}
