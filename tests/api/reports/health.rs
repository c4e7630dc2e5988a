//! `Tenant.health`: each rule reads the state it names from the database; the same statements
//! for 5 and 50 tenants; only tenant admins, the partner's staff and operators see it.

use serde_json::{Value, json};

use super::{exec, subscribe};
use crate::support::app::first_error_code;
use crate::support::{Level, Role, Tenant, World};

const HEALTH: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) { health { score band reasons { code message weight } computedAt } }
}"#;

async fn health(w: &World, who: &str, slug: &str) -> Value {
    let body = w.query_with(who, HEALTH, json!({ "slug": slug })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"]["health"].clone()
}

fn codes(h: &Value) -> Vec<(String, i64)> {
    h["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_owned(),
                r["weight"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn world() -> World {
    World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell").status("active"))
        .operator("root")
        .member("alice", "acme", Role::Owner)
        .member("mallory", "acme", Role::Member)
        .staff("sue", "resell", Level::Member)
        .spawn()
        .await
}

#[tokio::test]
async fn each_rule_reads_its_state() {
    let w = world().await;
    subscribe(&w, "acme", "standard", "active", 1000, "EUR", "monthly").await;
    let h = health(&w, "alice", "acme").await;
    assert_eq!(
        (h["score"].clone(), h["band"].clone()),
        (json!(100), json!("HEALTHY")),
        "{h}"
    );
    assert_eq!(codes(&h), []);
    let acme = "(SELECT id FROM tenants WHERE slug = 'acme')";
    // Subscription past due.
    exec(&w, "UPDATE subscriptions SET status = 'past_due'").await;
    assert_eq!(
        codes(&health(&w, "alice", "acme").await),
        [("SUBSCRIPTION_PAST_DUE".into(), 25)]
    );
    exec(&w, "UPDATE subscriptions SET status = 'active'").await;
    // An open invoice past due (and one not yet due, and a paid one: neither counts).
    exec(&w, &format!(
        "INSERT INTO invoices (stripe_invoice_id, tenant_id, status, currency, total_minor, amount_due_minor, due_date, stripe_created, stripe_synced_at)
         VALUES ('in_late', {acme}, 'open', 'EUR', 1000, 1000, now() - interval '1 day', now(), now()),
                ('in_soon', {acme}, 'open', 'EUR', 1000, 1000, now() + interval '1 day', now(), now()),
                ('in_paid', {acme}, 'paid', 'EUR', 1000, 0, now() - interval '9 days', now(), now())")).await;
    assert_eq!(
        codes(&health(&w, "alice", "acme").await),
        [("INVOICES_OVERDUE".into(), 15)]
    );
    exec(
        &w,
        "UPDATE invoices SET status = 'uncollectible' WHERE stripe_invoice_id = 'in_late'",
    )
    .await;
    assert_eq!(
        codes(&health(&w, "alice", "acme").await),
        [("INVOICES_UNCOLLECTIBLE".into(), 30)]
    );
    exec(&w, "DELETE FROM invoices").await;
    // A provisioning step and a member step in error.
    exec(&w, &format!("INSERT INTO provisioning_steps (tenant_id, step, status) VALUES ({acme}, 'authentik_group', 'error')")).await;
    exec(
        &w,
        &format!(
            "INSERT INTO member_steps (membership_id, step, status)
         SELECT id, 'stalwart', 'error' FROM memberships WHERE tenant_id = {acme} LIMIT 1"
        ),
    )
    .await;
    assert_eq!(
        codes(&health(&w, "alice", "acme").await),
        [("STEPS_IN_ERROR".into(), 20)]
    );
    exec(&w, "DELETE FROM provisioning_steps").await;
    exec(&w, "DELETE FROM member_steps").await;
    // Domains failing and degraded.
    exec(&w, &format!(
        "INSERT INTO domains (tenant_id, name, status) VALUES
           ({acme}, 'a.example', 'failing'), ({acme}, 'b.example', 'degraded'), ({acme}, 'c.example', 'verified')")).await;
    let h = health(&w, "alice", "acme").await;
    assert_eq!(
        codes(&h),
        [
            ("DOMAINS_FAILING".into(), 25),
            ("DOMAINS_DEGRADED".into(), 10)
        ]
    );
    assert_eq!(
        (h["score"].clone(), h["band"].clone()),
        (json!(65), json!("AT_RISK"))
    );
    exec(&w, "DELETE FROM domains").await;
    // Seats: the subscription's 10 seats, 11 members.
    exec(
        &w,
        "INSERT INTO users (authentik_subject, email, name)
         SELECT 'seat-' || n, 'seat-' || n || '@example.com', 'Seat' FROM generate_series(1, 9) n",
    )
    .await;
    exec(
        &w,
        &format!(
            "INSERT INTO memberships (user_id, tenant_id, role, status)
         SELECT id, {acme}, 'member', 'active' FROM users WHERE authentik_subject LIKE 'seat-%'"
        ),
    )
    .await;
    assert_eq!(
        codes(&health(&w, "alice", "acme").await),
        [("SEATS_EXCEEDED".into(), 20)]
    );
    // Tenant status.
    exec(
        &w,
        "UPDATE tenants SET status = 'suspended' WHERE slug = 'acme'",
    )
    .await;
    let h = health(&w, "root", "acme").await;
    assert_eq!(
        codes(&h),
        [
            ("TENANT_SUSPENDED".into(), 60),
            ("SEATS_EXCEEDED".into(), 20)
        ]
    );
    assert_eq!(
        (h["score"].clone(), h["band"].clone()),
        (json!(20), json!("CRITICAL"))
    );
    // The MFA rule stays silent while no member's enrollment is known (the snapshot is
    // empty: see `mfa_coverage.rs` for the rule at work).
    assert!(!codes(&h).iter().any(|(c, _)| c == "MFA_COVERAGE_LOW"));
}

#[tokio::test]
async fn only_admins_staff_and_operators_see_it() {
    let w = world().await;
    let seen = health(&w, "root", "acme").await;
    assert_eq!(seen["band"], "HEALTHY", "{seen}");
    for who in ["alice", "sue"] {
        assert_eq!(
            health(&w, who, "acme").await["score"],
            seen["score"],
            "{who}"
        );
    }
    let body = w
        .query_with("mallory", HEALTH, json!({ "slug": "acme" }))
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
}

const MANY: &str = r#"
query($first: Int) { tenants(first: $first) { nodes { slug health { score band reasons { code } } } } }"#;

#[tokio::test]
async fn the_same_statements_for_5_and_50_tenants() {
    let w = World::new().bulk(5, 10, 1).operator("root").spawn().await;
    // Every tenant requires MFA and every member's enrollment is known (none enrolled), so
    // the coverage statement has a row for each tenant.
    exec(
        &w,
        "INSERT INTO security_policies (tenant_id, mfa_mode) SELECT id, 'required' FROM tenants",
    )
    .await;
    exec(
        &w,
        "INSERT INTO mfa_enrollments (user_id, enrolled) SELECT id, false FROM users",
    )
    .await;
    w.query("root", "{ me { operator } }").await;
    let mut counts = Vec::new();
    for first in [5, 50] {
        let before = w.statements();
        let body = w.query_with("root", MANY, json!({ "first": first })).await;
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["tenants"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), first as usize);
        assert!(nodes.iter().all(|n| n["health"]["band"].is_string()));
        assert!(
            nodes.iter().all(|n| n["health"]["reasons"]
                .to_string()
                .contains("MFA_COVERAGE_LOW")),
            "{body}"
        );
        counts.push(w.statements() - before);
    }
    eprintln!("statements for 5 and 50 tenants with health: {counts:?}");
    assert_eq!(counts[0], counts[1], "statements for 5 and for 50 tenants");
}
