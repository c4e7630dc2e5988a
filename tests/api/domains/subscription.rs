//! `domainStatusChanged` over a real WebSocket: the stored changes replayed, then a live one
//! from a check another replica ran; and who may not subscribe.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::dns_server::DnsServer;
use super::domain_row;
use crate::provisioning::quick_jobs;
use crate::support::ws::{Incoming, WsClient};
use crate::support::{Role, TestApp, World};

const CHANGES: &str = r#"
subscription($slug: String!, $after: Int!) {
  domainStatusChanged(tenantSlug: $slug, afterId: $after) { id domain unicodeDomain from to at }
}"#;

const RECHECK: &str = r#"
mutation($input: DomainRefInput!) { recheckDomain(input: $input) { domain { status } } }"#;

fn subscribe(id: &str, slug: &str, after: i64) -> Value {
    json!({ "id": id, "type": "subscribe",
            "payload": { "query": CHANGES, "variables": { "slug": slug, "after": after } } })
}

async fn next_change(ws: &mut WsClient, id: &str) -> Value {
    match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
        Ok(Incoming::Json(m)) if m["type"] == "next" && m["id"] == id => {
            assert!(m["payload"].get("errors").is_none(), "{m}");
            m["payload"]["data"]["domainStatusChanged"].clone()
        }
        other => panic!("expected a change, got {other:?}"),
    }
}

#[tokio::test]
async fn changes_are_replayed_then_streamed_from_another_replica() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let settings = move |c: &mut platform_api::config::Config| {
        c.domains.dns.resolvers = vec![addr];
        c.domains.dns.timeout = Duration::from_millis(400);
    };
    let app = TestApp::spawn_with(settings).await;
    let w = World::new()
        .tenant("acme")
        .member("tadmin", "acme", Role::Admin)
        .user("stranger")
        .build(app)
        .await;
    domain_row(&w, "acme", "xn--bcher-kva.example", "verified", None).await;
    // Nothing is published: the check fails, VERIFIED → DEGRADED.
    let body = w
        .query_with(
            "tadmin",
            RECHECK,
            json!({ "input": { "tenant": "acme", "domain": "bücher.example" } }),
        )
        .await;
    assert_eq!(
        body["data"]["recheckDomain"]["domain"]["status"], "DEGRADED",
        "{body}"
    );

    let mut ws = WsClient::connect_authenticated(w.addr, &w.token("tadmin")).await;
    ws.send(subscribe("s", "acme", 0)).await;
    let first = next_change(&mut ws, "s").await;
    assert_eq!(
        (
            &first["domain"],
            &first["unicodeDomain"],
            &first["from"],
            &first["to"]
        ),
        (
            &json!("xn--bcher-kva.example"),
            &json!("bücher.example"),
            &json!("VERIFIED"),
            &json!("DEGRADED")
        )
    );

    // Publish the records and let another replica's recheck job find it due.
    #[derive(diesel::QueryableByName)]
    struct Token {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ownership_token: String,
    }
    let mut conn = w.db.connect().await;
    let token: Token =
        diesel::sql_query("UPDATE domains SET next_check_at = now() RETURNING ownership_token")
            .get_result(&mut conn)
            .await
            .unwrap();
    dns.txt("xn--bcher-kva.example", &[&token.ownership_token]);
    dns.txt("_dmarc.xn--bcher-kva.example", &["v=DMARC1; p=none"]);
    let _worker = w
        .spawn_sibling(|c| {
            settings(c);
            quick_jobs(c, 1);
        })
        .await;
    let second = next_change(&mut ws, "s").await;
    assert_eq!(
        (&second["from"], &second["to"]),
        (&json!("DEGRADED"), &json!("VERIFIED"))
    );
    assert!(second["id"].as_i64() > first["id"].as_i64());

    // Resuming after the first replays only the second.
    ws.send(subscribe("r", "acme", first["id"].as_i64().unwrap()))
        .await;
    let resumed = next_change(&mut ws, "r").await;
    assert_eq!(resumed["id"], second["id"]);

    // Someone who may not see the tenant: NOT_FOUND, like a tenant that does not exist.
    let mut other = WsClient::connect_authenticated(w.addr, &w.token("stranger")).await;
    other.send(subscribe("x", "acme", 0)).await;
    match other.next().await {
        Incoming::Json(m) => {
            assert_eq!(
                m["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
                "{m}"
            );
            assert_eq!(m["payload"]["data"], json!(null));
        }
        other => panic!("expected an error, got {other:?}"),
    }
}
