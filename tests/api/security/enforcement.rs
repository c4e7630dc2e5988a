//! Where the policy is enforced: every request of a tenant's members about the tenant is
//! checked against its IP allowlist (client address from `X-Forwarded-For` only through a
//! trusted proxy) and, with a GeoIP database, its countries. Operators are exempt and
//! audited.

use platform_api::config::Config;
use serde_json::json;

use super::{NAME, POLICY, UPDATE, code, from, last_details};
use crate::support::geoip::Mmdb;
use crate::support::tables::count;
use crate::support::{Role, TestApp, World};

const TENANTS: &str = r#"{ tenants { nodes { slug } } }"#;

const RENAME: &str = r#"
mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { name } } }"#;

async fn world(adjust: impl FnOnce(&mut Config)) -> World {
    let app = TestApp::spawn_with(adjust).await;
    World::new()
        .tenant("acme")
        .tenant("other")
        .operator("root")
        .member("tadmin", "acme", Role::Admin)
        .member("tadmin", "other", Role::Admin)
        .member("member", "acme", Role::Member)
        .build(app)
        .await
}

/// `root` (exempt) sets acme's network rule.
async fn rule(w: &World, ips: &[&str], countries: &[&str]) {
    let vars = json!({ "input": {
        "tenant": "acme", "ipAllowlist": ips, "allowedCountries": countries
    }});
    let body = w.query_with("root", UPDATE, vars).await;
    assert!(body.get("errors").is_none(), "{body}");
}

fn slugs(body: &serde_json::Value) -> Vec<String> {
    body["data"]["tenants"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_allowlist_admits_one_client_address_and_refuses_another() {
    let w = world(|_| {}).await;
    rule(&w, &["127.0.0.1/32"], &[]).await;
    let acme = json!({ "slug": "acme" });

    let body = from(&w, "127.0.0.1", None, "member", NAME, acme.clone()).await;
    assert_eq!(body["data"]["tenant"]["name"], "acme", "{body}");

    let body = from(&w, "127.0.0.2", None, "member", NAME, acme.clone()).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("127.0.0.2") && message.contains("allowlist"),
        "{message}"
    );
    // Lists leave the tenant out; the member's other tenant is unaffected.
    let body = from(&w, "127.0.0.2", None, "tadmin", TENANTS, json!({})).await;
    assert_eq!(slugs(&body), ["other"], "{body}");
    let body = from(&w, "127.0.0.1", None, "tadmin", TENANTS, json!({})).await;
    assert_eq!(slugs(&body), ["acme", "other"], "{body}");

    // A mutation from outside is refused before it runs, and audited as denied.
    let mut conn = w.db.connect().await;
    let denied = "audit_events WHERE action = 'tenant.update' AND outcome = 'denied'";
    let before = count(&mut conn, denied).await;
    let rename = json!({ "input": { "tenant": "acme", "name": "Renamed" } });
    let body = from(&w, "127.0.0.2", None, "tadmin", RENAME, rename.clone()).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(count(&mut conn, denied).await, before + 1);
    let body = from(&w, "127.0.0.1", None, "tadmin", NAME, acme.clone()).await;
    assert_eq!(body["data"]["tenant"]["name"], "acme");

    // Operators are exempt, and their access is audited with the reason.
    let exempt = "audit_events WHERE action = 'security.exempt_access'";
    assert_eq!(count(&mut conn, exempt).await, 0);
    let body = from(&w, "127.0.0.2", None, "root", NAME, acme.clone()).await;
    assert_eq!(body["data"]["tenant"]["name"], "acme", "{body}");
    assert_eq!(count(&mut conn, exempt).await, 1);
    let details = last_details(&w, "security.exempt_access").await;
    assert!(
        details["reason"].as_str().unwrap().contains("127.0.0.2"),
        "{details}"
    );
    let body = from(&w, "127.0.0.2", None, "root", RENAME, rename).await;
    assert!(body.get("errors").is_none(), "{body}");
    let details = last_details(&w, "tenant.update").await;
    assert!(
        details["networkRuleExempt"]
            .as_str()
            .unwrap()
            .contains("127.0.0.2"),
        "{details}"
    );
    // From inside the allowlist an operator leaves no exemption row.
    from(&w, "127.0.0.1", None, "root", NAME, acme).await;
    assert_eq!(count(&mut conn, exempt).await, 1);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let w = world(|c| c.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    rule(&w, &["203.0.113.0/24"], &[]).await;
    let acme = json!({ "slug": "acme" });

    // Through the proxy: the forwarded client address decides.
    let body = from(
        &w,
        "127.0.0.1",
        Some("203.0.113.5"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(body["data"]["tenant"]["name"], "acme", "{body}");
    let body = from(
        &w,
        "127.0.0.1",
        Some("198.51.100.7"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("198.51.100.7")
    );

    // From an untrusted peer the header is a spoof and is ignored: the peer is the client.
    let body = from(&w, "127.0.0.2", Some("203.0.113.5"), "member", NAME, acme).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.2")
    );
}

#[tokio::test]
async fn without_trusted_proxies_the_header_is_ignored() {
    let w = world(|_| {}).await;
    rule(&w, &["203.0.113.0/24"], &[]).await;
    let acme = json!({ "slug": "acme" });
    let body = from(&w, "127.0.0.1", Some("203.0.113.5"), "member", NAME, acme).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );
}

fn country_status(body: &serde_json::Value) -> String {
    body["data"]["tenant"]["securityPolicy"]["enforcement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "ALLOWED_COUNTRIES")
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn countries_are_enforced_with_a_geoip_database() {
    let dir = std::env::temp_dir().join(format!("geoip-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("country.mmdb");
    let mmdb = Mmdb::default()
        .country("203.0.113.0/24", "DE")
        .country("198.51.100.0/24", "US");
    std::fs::write(&path, mmdb.build()).unwrap();
    let w = world(|c| {
        c.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.security.geoip_database = Some(path.clone());
    })
    .await;
    rule(&w, &[], &["DE", "FR"]).await;
    let acme = json!({ "slug": "acme" });

    let body = from(
        &w,
        "127.0.0.1",
        Some("203.0.113.9"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(body["data"]["tenant"]["name"], "acme", "{body}");
    let body = from(
        &w,
        "127.0.0.1",
        Some("198.51.100.9"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("US"),
        "{body}"
    );
    // An address the database does not place is refused too.
    let body = from(
        &w,
        "127.0.0.1",
        Some("192.0.2.1"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = from(&w, "127.0.0.1", Some("203.0.113.9"), "tadmin", POLICY, acme).await;
    assert_eq!(country_status(&body), "ENFORCED", "{body}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn without_a_geoip_database_countries_are_reported_not_enforced() {
    let w = world(|c| c.limits.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    rule(&w, &[], &["DE"]).await;
    let acme = json!({ "slug": "acme" });
    let body = from(
        &w,
        "127.0.0.1",
        Some("198.51.100.9"),
        "member",
        NAME,
        acme.clone(),
    )
    .await;
    assert_eq!(body["data"]["tenant"]["name"], "acme", "{body}");
    let body = from(
        &w,
        "127.0.0.1",
        Some("198.51.100.9"),
        "tadmin",
        POLICY,
        acme,
    )
    .await;
    assert_eq!(country_status(&body), "NOT_ENFORCED", "{body}");
}
