//! The plan catalogue: `upsertPlan` and `setPlanPrice` (operators; allowed, denied, invalid),
//! `plans`, `Tenant.plan` as a catalogue entry, and `limits_for` (seats from the live
//! subscription, else the plan).

use platform_api::domain::billing::plans::{PlanLimits, limits_for};
use platform_api::domain::ids::TenantId;
use serde_json::json;

use crate::support::{Role, Tenant, World};

const UPSERT_PLAN: &str = r#"
mutation($input: UpsertPlanInput!) {
  upsertPlan(input: $input) {
    plan { key name seatsIncluded mailboxQuotaBytes storageQuotaBytes }
  }
}"#;

const SET_PRICE: &str = r#"
mutation($input: SetPlanPriceInput!) {
  setPlanPrice(input: $input) {
    plan { key prices { billingCycle unitAmount { amountMinor currency } stripePriceId } }
  }
}"#;

const PLANS: &str = r#"{ plans { key name seatsIncluded prices { billingCycle unitAmount { amountMinor currency } } } }"#;

async fn world() -> World {
    World::new()
        .tenant("acme")
        .tenant(Tenant::new("big").plan("business"))
        .tenant("gone")
        .operator("root")
        .member("tadmin", "acme", Role::Owner)
        .spawn()
        .await
}

fn plan(key: &str, seats: i32) -> serde_json::Value {
    json!({ "input": {
        "key": key, "name": "Team", "seatsIncluded": seats,
        "mailboxQuotaBytes": "10737418240", "storageQuotaBytes": "107374182400"
    } })
}

#[tokio::test]
async fn operators_keep_the_catalogue() {
    let w = world().await;
    let body = w
        .allowed("root", UPSERT_PLAN, plan("team", 10), "plan.upsert")
        .await;
    assert_eq!(
        body["data"]["upsertPlan"]["plan"],
        json!({ "key": "team", "name": "Team", "seatsIncluded": 10,
                "mailboxQuotaBytes": 10_737_418_240_i64, "storageQuotaBytes": 107_374_182_400_i64 })
    );
    // Again: replaced, not duplicated.
    let body = w
        .allowed("root", UPSERT_PLAN, plan("team", 12), "plan.upsert")
        .await;
    assert_eq!(body["data"]["upsertPlan"]["plan"]["seatsIncluded"], 12);

    let price = |currency: &str, cycle: &str, amount: &str, stripe: Option<&str>| {
        json!({ "input": { "plan": "team", "currency": currency, "billingCycle": cycle,
                           "unitAmountMinor": amount, "stripePriceId": stripe } })
    };
    w.allowed(
        "root",
        SET_PRICE,
        price("eur", "MONTHLY", "1200", Some("price_team_eur_m")),
        "plan.set_price",
    )
    .await;
    let body = w
        .allowed(
            "root",
            SET_PRICE,
            price("JPY", "YEARLY", "15000", None),
            "plan.set_price",
        )
        .await;
    assert_eq!(
        body["data"]["setPlanPrice"]["plan"]["prices"],
        json!([
            { "billingCycle": "MONTHLY", "unitAmount": { "amountMinor": 1200, "currency": "EUR" },
              "stripePriceId": "price_team_eur_m" },
            { "billingCycle": "YEARLY", "unitAmount": { "amountMinor": 15000, "currency": "JPY" },
              "stripePriceId": null },
        ])
    );

    // Anyone signed in reads the catalogue; the Stripe price ids are for operators.
    let body = w.query("tadmin", PLANS).await;
    let plans = body["data"]["plans"].as_array().unwrap();
    let keys: Vec<&str> = plans.iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["business", "standard", "team"], "{body}");
    let body = w
        .query("tadmin", r#"{ plans { prices { stripePriceId } } }"#)
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    for (who, variables, code) in [
        (Some("tadmin"), plan("team", 1), "FORBIDDEN"),
        (None, plan("team", 1), "UNAUTHENTICATED"),
    ] {
        w.denied(who, UPSERT_PLAN, variables, "plan.upsert", code)
            .await;
    }
    w.denied(
        Some("tadmin"),
        SET_PRICE,
        price("EUR", "MONTHLY", "1", None),
        "plan.set_price",
        "FORBIDDEN",
    )
    .await;

    for (variables, field) in [
        (plan("Team Plan", 1), "input.key"),
        (plan("team", -1), "input.seatsIncluded"),
        (
            json!({ "input": { "key": "team", "name": "", "seatsIncluded": 1,
                               "mailboxQuotaBytes": "0", "storageQuotaBytes": "0" } }),
            "input.name",
        ),
        (
            json!({ "input": { "key": "team", "name": "T", "seatsIncluded": 1,
                               "mailboxQuotaBytes": "-1", "storageQuotaBytes": "0" } }),
            "input.mailboxQuotaBytes",
        ),
    ] {
        w.invalid("root", UPSERT_PLAN, variables, "plan.upsert", field)
            .await;
    }
    for (variables, field) in [
        (price("EURO", "MONTHLY", "1", None), "input.currency"),
        (price("EUR", "MONTHLY", "-5", None), "input.unitAmountMinor"),
        (
            price("EUR", "MONTHLY", "5", Some("prod_123")),
            "input.stripePriceId",
        ),
        // The price id of another plan/currency/cycle.
        (
            price("USD", "MONTHLY", "5", Some("price_team_eur_m")),
            "input.stripePriceId",
        ),
        (
            json!({ "input": { "plan": "platinum", "currency": "EUR", "billingCycle": "MONTHLY",
                               "unitAmountMinor": "1" } }),
            "input.plan",
        ),
    ] {
        w.invalid("root", SET_PRICE, variables, "plan.set_price", field)
            .await;
    }
}

#[tokio::test]
async fn a_tenant_is_on_a_catalogue_plan() {
    let w = world().await;
    let body = w
        .query(
            "root",
            r#"{ tenant(slug: "big") { plan { key name seatsIncluded } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"]["plan"],
        json!({ "key": "business", "name": "business", "seatsIncluded": 5 }),
        "{body}"
    );
    // The database refuses a plan that is not in the catalogue.
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    let refused = diesel::sql_query("UPDATE tenants SET plan = 'nope' WHERE slug = 'acme'")
        .execute(&mut conn)
        .await;
    assert!(
        format!("{refused:?}").contains("tenants_plan_fkey"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn limits_come_from_the_live_subscription_else_the_plan() {
    use diesel_async::RunQueryDsl;
    let w = world().await;
    let mut conn = w.db.connect().await;
    diesel::sql_query(
        "UPDATE plans SET seats_included = 3, mailbox_quota_bytes = 100, storage_quota_bytes = 200
          WHERE key = 'business'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
         SELECT id, 'standard', CASE slug WHEN 'acme' THEN 'active' ELSE 'canceled' END,
                CASE slug WHEN 'acme' THEN 42 ELSE 7 END, 0, 'EUR', 'monthly'
           FROM tenants WHERE slug IN ('acme', 'gone')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let id = |slug: &str| TenantId::from(w.id(slug));
    let unknown = TenantId::from(uuid::Uuid::new_v4());
    let limits = limits_for(&mut conn, &[id("acme"), id("big"), id("gone"), unknown])
        .await
        .unwrap();
    assert_eq!(limits.len(), 3, "an unknown tenant has no limits");
    assert_eq!(limits[&id("acme")].seats_included, 42, "live subscription");
    assert_eq!(
        limits[&id("big")],
        PlanLimits {
            seats_included: 3,
            mailbox_quota_bytes: 100,
            storage_quota_bytes: 200
        }
    );
    assert_eq!(
        limits[&id("gone")].seats_included,
        5,
        "a canceled subscription's seats do not count"
    );
    assert!(limits_for(&mut conn, &[]).await.unwrap().is_empty());
}
