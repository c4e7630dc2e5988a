//! The gate: without Stripe keys the server starts, billing says it is not configured and
//! nothing calls Stripe; with keys, the `new_billing_engine` flag (created by a migration, on
//! by default) decides per tenant.

use diesel_async::RunQueryDsl;
use serde_json::json;

use super::details::UPDATE;
use super::{stripe_app, stripe_calls};
use crate::support::fakes;
use crate::support::{Level, Role, Tenant, TestApp, World};

const STATE: &str = r#"
query($period: BillingPeriodInput!) {
  tenant(slug: "acme") { billingConfigured paymentMethod { last4 } billingDetails { email } }
  partner(slug: "resell") { billingConfigured billingSummary(period: $period) { configured revenue { amountMinor } } }
}"#;

const START: &str = r#"
mutation($input: StartPaymentMethodSetupInput!) {
  startPaymentMethodSetup(input: $input) { clientSecret }
}"#;

const SET_DEFAULT: &str = r#"
mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) { tenant { slug } }
}"#;

fn period() -> serde_json::Value {
    json!({ "from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z" })
}

#[tokio::test]
async fn without_keys_billing_says_not_configured_and_refuses_changes() {
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .member("own", "acme", Role::Owner)
        .staff("sue", "resell", Level::Admin)
        .operator("root")
        .build(TestApp::spawn().await)
        .await;
    let body = w
        .query_with("root", STATE, json!({ "period": period() }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({
            "tenant": { "billingConfigured": false, "paymentMethod": null, "billingDetails": null },
            "partner": { "billingConfigured": false,
                         "billingSummary": { "configured": false, "revenue": [] } },
        })
    );
    let input = json!({ "input": { "tenant": "acme", "email": "ap@acme.example" } });
    w.refused(
        Some("own"),
        UPDATE,
        input,
        "billing.update_details",
        "CONFLICT",
        "failure",
    )
    .await;
    w.refused(
        Some("own"),
        START,
        json!({ "input": { "tenant": "acme" } }),
        "billing.start_payment_method_setup",
        "CONFLICT",
        "failure",
    )
    .await;
    w.refused(
        Some("own"),
        SET_DEFAULT,
        json!({ "input": { "tenant": "acme", "paymentMethod": "pm_123" } }),
        "billing.set_default_payment_method",
        "CONFLICT",
        "failure",
    )
    .await;
    let platform = w
        .query_with(
            "root",
            r#"query($period: BillingPeriodInput!) { platformBillingSummary(period: $period) { configured } }"#,
            json!({ "period": period() }),
        )
        .await;
    assert_eq!(
        platform["data"]["platformBillingSummary"]["configured"],
        false
    );
}

#[tokio::test]
async fn the_flag_turns_billing_off_per_tenant_and_nothing_calls_stripe() {
    let stripe = fakes::stripe::spawn().await;
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell"))
        .tenant("globex")
        .member("own", "acme", Role::Owner)
        .member("gown", "globex", Role::Owner)
        .operator("root")
        .build(stripe_app(&stripe).await)
        .await;
    let mut conn = w.db.connect().await;
    // On by default (the migration's flag).
    let body = w
        .query_with("root", STATE, json!({ "period": period() }))
        .await;
    assert_eq!(body["data"]["tenant"]["billingConfigured"], true, "{body}");
    assert_eq!(body["data"]["partner"]["billingConfigured"], true);

    // Off by default, on for globex only.
    diesel::sql_query(
        "UPDATE feature_flags SET default_value = false,
                rules = jsonb_build_array(jsonb_build_object('kind', 'tenants',
                        'tenantIds', jsonb_build_array((SELECT id FROM tenants WHERE slug = 'globex')),
                        'value', true))
          WHERE key = 'new_billing_engine'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let body = w
        .query_with("root", STATE, json!({ "period": period() }))
        .await;
    assert_eq!(body["data"]["tenant"]["billingConfigured"], false, "{body}");
    w.refused(
        Some("own"),
        START,
        json!({ "input": { "tenant": "acme" } }),
        "billing.start_payment_method_setup",
        "CONFLICT",
        "failure",
    )
    .await;
    // The seats too: refused as "not configured" (not as "no running subscription"),
    // nothing queued.
    let body = w
        .query_with(
            "own",
            r#"mutation($input: SetSubscriptionSeatsInput!) {
                 setSubscriptionSeats(input: $input) { tenant { slug } } }"#,
            json!({ "input": { "tenant": "acme", "seats": 5 } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not configured"),
        "{body}"
    );
    assert_eq!(
        crate::support::tables::count(&mut conn, "jobs WHERE kind = 'billing_subscription'").await,
        0
    );
    assert_eq!(
        stripe.calls().len(),
        0,
        "acme's billing is off: nothing called"
    );
    w.allowed(
        "gown",
        START,
        json!({ "input": { "tenant": "globex" } }),
        "billing.start_payment_method_setup",
    )
    .await;
    assert_eq!(stripe_calls(&stripe, "POST", "/v1/setup_intents"), 1);

    // Disabled altogether: partner figures say so too.
    diesel::sql_query("UPDATE feature_flags SET enabled = false WHERE key = 'new_billing_engine'")
        .execute(&mut conn)
        .await
        .unwrap();
    let body = w
        .query_with("root", STATE, json!({ "period": period() }))
        .await;
    assert_eq!(
        body["data"]["partner"]["billingConfigured"], false,
        "{body}"
    );
    assert_eq!(
        body["data"]["partner"]["billingSummary"]["configured"],
        false
    );
}
