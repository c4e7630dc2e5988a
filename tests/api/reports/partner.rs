//! Partner and platform reports against hand-computed fixtures: several currencies, yearly
//! prices, a partner with no tenants, a month with only churn; and who may ask.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::{exec, subscribe};
use crate::support::app::first_error_code;
use crate::support::world::{Arrange, AuditEvent};
use crate::support::{Level, Role, Tenant, World};

const PARTNER: &str = r#"
query($partner: String!, $period: ReportPeriodInput) {
  partnerReport(partner: $partner, period: $period) {
    partnerSlug
    period { from to }
    healthCohorts { band count tenants { slug } }
    revenueByPlan { plan currency subscriptions mrrMinor }
    topCustomers(first: 1) { slug currency mrrMinor }
    cohorts { month signups churned net }
  }
}"#;

const PLATFORM: &str = r#"
query($period: ReportPeriodInput) {
  platformReport(period: $period) {
    mrr { currency mrrMinor }
    revenueByPlan { plan currency subscriptions mrrMinor }
    topTenants(first: 2) { slug currency mrrMinor }
    growth { month signups churned net }
  }
}"#;

/// January to March 2026.
fn q1() -> Value {
    json!({ "from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z" })
}

/// Partner `one` has ant (business, 120.00 EUR yearly = 10.00/month), bee (standard 10.00 EUR
/// monthly), cat (standard 20.00 USD monthly, trialing) and dog (canceled, terminated in March);
/// partner `two` has elk (7.00 EUR); `empty` has none; `fox` is a direct customer (30.00 USD,
/// past due: still paying).
async fn world() -> World {
    let mut w = World::new()
        .partner("one")
        .partner("two")
        .partner("empty")
        .tenant(Tenant::of("ant", "one").status("active"))
        .tenant(Tenant::of("bee", "one").status("active"))
        .tenant(Tenant::of("cat", "one").status("active"))
        .tenant(Tenant::of("dog", "one").status("terminated"))
        .tenant(Tenant::of("elk", "two").status("active"))
        .tenant(Tenant::new("fox").status("active"))
        .operator("root")
        .staff("sue", "one", Level::Member)
        .staff("tom", "empty", Level::Admin)
        .member("bea", "elk", Role::Owner)
        .spawn()
        .await;
    subscribe(&w, "ant", "business", "active", 12000, "EUR", "yearly").await;
    subscribe(&w, "bee", "standard", "active", 1000, "EUR", "monthly").await;
    subscribe(&w, "cat", "standard", "trialing", 2000, "USD", "monthly").await;
    subscribe(&w, "dog", "standard", "canceled", 5000, "EUR", "monthly").await;
    subscribe(&w, "elk", "standard", "active", 700, "EUR", "monthly").await;
    subscribe(&w, "fox", "business", "past_due", 3000, "USD", "monthly").await;
    for (slug, at) in [
        ("ant", "2026-01-10"),
        ("bee", "2026-01-20"),
        ("cat", "2026-02-05"),
        ("dog", "2025-12-01"),
        ("elk", "2026-02-10"),
        ("fox", "2025-06-01"),
    ] {
        exec(
            &w,
            &format!("UPDATE tenants SET created_at = '{at}T12:00:00Z' WHERE slug = '{slug}'"),
        )
        .await;
    }
    let event = |tenant: &str, outcome: &str, day: u32, month: u32| AuditEvent {
        label: format!("{tenant}-{outcome}"),
        tenant: Some(tenant.into()),
        partner: None,
        actor_email: Some("root@example.com".into()),
        action: "tenant.terminate".into(),
        target_type: "tenant".into(),
        target_id: None,
        outcome: outcome.into(),
        at: Utc.with_ymd_and_hms(2026, month, day, 9, 0, 0).unwrap(),
    };
    w.arrange(
        Arrange::default()
            .event(event("dog", "success", 15, 3))
            .event(event("bee", "failure", 3, 2)),
    )
    .await;
    w
}

fn report(body: &Value, root: &str) -> Value {
    assert!(body.get("errors").is_none(), "{body}");
    body["data"][root].clone()
}

#[tokio::test]
async fn a_partner_report_matches_the_hand_computed_figures() {
    let w = world().await;
    for who in ["sue", "root"] {
        let r = report(
            &w.query_with(who, PARTNER, json!({ "partner": "one", "period": q1() }))
                .await,
            "partnerReport",
        );
        assert_eq!(
            r["revenueByPlan"],
            json!([
                { "plan": "business", "currency": "EUR", "subscriptions": 1, "mrrMinor": 1000 },
                { "plan": "standard", "currency": "EUR", "subscriptions": 1, "mrrMinor": 1000 },
                { "plan": "standard", "currency": "USD", "subscriptions": 1, "mrrMinor": 2000 },
            ]),
            "{who}"
        );
        // ant and bee tie at 10.00 EUR: the slug decides.
        assert_eq!(
            r["topCustomers"],
            json!([
                { "slug": "ant", "currency": "EUR", "mrrMinor": 1000 },
                { "slug": "cat", "currency": "USD", "mrrMinor": 2000 },
            ])
        );
        // March has only churn; the failed termination in February does not count.
        assert_eq!(
            r["cohorts"],
            json!([
                { "month": "2026-01", "signups": 2, "churned": 0, "net": 2 },
                { "month": "2026-02", "signups": 1, "churned": 0, "net": 1 },
                { "month": "2026-03", "signups": 0, "churned": 1, "net": -1 },
            ])
        );
        let cohorts = r["healthCohorts"].as_array().unwrap();
        let bands: Vec<&str> = cohorts
            .iter()
            .map(|c| c["band"].as_str().unwrap())
            .collect();
        assert_eq!(bands, ["HEALTHY", "AT_RISK", "CRITICAL"]);
        let counted: i64 = cohorts.iter().map(|c| c["count"].as_i64().unwrap()).sum();
        assert_eq!(
            counted, 3,
            "ant, bee, cat: the terminated dog is not a cohort member"
        );
    }
}

#[tokio::test]
async fn a_partner_with_no_tenants_has_zeros_not_errors() {
    let w = world().await;
    let r = report(
        &w.query_with(
            "tom",
            PARTNER,
            json!({ "partner": "empty", "period": q1() }),
        )
        .await,
        "partnerReport",
    );
    assert_eq!(r["revenueByPlan"], json!([]));
    assert_eq!(r["topCustomers"], json!([]));
    assert_eq!(
        r["cohorts"],
        json!([
            { "month": "2026-01", "signups": 0, "churned": 0, "net": 0 },
            { "month": "2026-02", "signups": 0, "churned": 0, "net": 0 },
            { "month": "2026-03", "signups": 0, "churned": 0, "net": 0 },
        ])
    );
    for c in r["healthCohorts"].as_array().unwrap() {
        assert_eq!(
            (c["count"].clone(), c["tenants"].clone()),
            (json!(0), json!([]))
        );
    }
}

#[tokio::test]
async fn the_platform_report_never_sums_currencies() {
    let w = world().await;
    let r = report(
        &w.query_with("root", PLATFORM, json!({ "period": q1() }))
            .await,
        "platformReport",
    );
    assert_eq!(
        r["mrr"],
        json!([{ "currency": "EUR", "mrrMinor": 2700 }, { "currency": "USD", "mrrMinor": 5000 }])
    );
    assert_eq!(
        r["revenueByPlan"],
        json!([
            { "plan": "business", "currency": "EUR", "subscriptions": 1, "mrrMinor": 1000 },
            { "plan": "business", "currency": "USD", "subscriptions": 1, "mrrMinor": 3000 },
            { "plan": "standard", "currency": "EUR", "subscriptions": 2, "mrrMinor": 1700 },
            { "plan": "standard", "currency": "USD", "subscriptions": 1, "mrrMinor": 2000 },
        ])
    );
    assert_eq!(
        r["topTenants"],
        json!([
            { "slug": "ant", "currency": "EUR", "mrrMinor": 1000 },
            { "slug": "bee", "currency": "EUR", "mrrMinor": 1000 },
            { "slug": "fox", "currency": "USD", "mrrMinor": 3000 },
            { "slug": "cat", "currency": "USD", "mrrMinor": 2000 },
        ])
    );
    assert_eq!(
        r["growth"],
        json!([
            { "month": "2026-01", "signups": 2, "churned": 0, "net": 2 },
            { "month": "2026-02", "signups": 2, "churned": 0, "net": 2 },
            { "month": "2026-03", "signups": 0, "churned": 1, "net": -1 },
        ])
    );
}

#[tokio::test]
async fn a_partner_never_sees_another_partners_figures() {
    let w = world().await;
    // Staff of `one` asking for `two`: exactly like a partner that does not exist.
    for partner in ["two", "nobody"] {
        let body = w
            .query_with("sue", PARTNER, json!({ "partner": partner }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
        assert_eq!(body["data"], Value::Null);
    }
    // A customer of `two` sees who the partner is, not its business.
    let body = w
        .query_with("bea", PARTNER, json!({ "partner": "two" }))
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    for who in ["sue", "bea", "tom"] {
        // The portal's schema has no platform report at all…
        let body = w.query_with(who, PLATFORM, json!({})).await;
        assert!(body["errors"].is_array(), "{who}: {body}");
        assert!(body["data"].is_null(), "{who}: {body}");
        // …and an operator token without operator powers is refused.
        let token = w.who(who).via_operator().sign(&w);
        let body = w.app.graphql_as_with(&token, PLATFORM, json!({})).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{who}: {body}");
    }
    // The default period: twelve calendar months ending now.
    let r = report(
        &w.query_with("sue", PARTNER, json!({ "partner": "one" }))
            .await,
        "partnerReport",
    );
    assert_eq!(r["cohorts"].as_array().unwrap().len(), 12);
    let bad = w
        .query_with("sue", PARTNER, json!({ "partner": "one", "period": { "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z" } }))
        .await;
    assert_eq!(first_error_code(&bad), "BAD_USER_INPUT", "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "period.from");
}
