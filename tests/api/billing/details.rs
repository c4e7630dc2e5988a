//! `updateBillingDetails` and `Tenant.billingDetails` against the Stripe fake: allowed
//! (pushed to the customer; the audit row names the fields, not their values), denied (no
//! Stripe call) and invalid (nothing written).

use serde_json::{Value, json};

use super::{eventually, stripe_app, stripe_calls};
use crate::support::fakes;
use crate::support::tables::count;
use crate::support::{Role, World};

pub(super) const UPDATE: &str = r#"
mutation($input: UpdateBillingDetailsInput!) {
  updateBillingDetails(input: $input) {
    billingDetails { company vatId country email }
    tenant { slug }
  }
}"#;

const START: &str = r#"
mutation($input: StartPaymentMethodSetupInput!) {
  startPaymentMethodSetup(input: $input) { clientSecret publishableKey }
}"#;

fn update(fields: Value) -> Value {
    let mut input = json!({ "tenant": "acme" });
    input
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({ "input": input })
}

#[tokio::test]
async fn billing_details_are_checked_pushed_and_audited_by_field_name() {
    let stripe = fakes::stripe::spawn().await;
    let w = World::new()
        .tenant("acme")
        .member("own", "acme", Role::Owner)
        .member("adm", "acme", Role::Admin)
        .member("mem", "acme", Role::Member)
        .user("stranger")
        .build(stripe_app(&stripe).await)
        .await;

    // Denied: no Stripe call, nothing written.
    let full = update(json!({ "company": "ACME GmbH", "country": "DE",
        "vatId": "de 123 456 789", "email": "Billing@Acme.example" }));
    for (who, code) in [
        (Some("mem"), "FORBIDDEN"),
        (Some("stranger"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(who, UPDATE, full.clone(), "billing.update_details", code)
            .await;
    }
    // Invalid: nothing written.
    for (fields, field) in [
        (json!({ "vatId": "DE123456789" }), "input.vatId"),
        (
            json!({ "country": "DE", "vatId": "DE12345" }),
            "input.vatId",
        ),
        (
            json!({ "country": "FR", "vatId": "DE123456789" }),
            "input.vatId",
        ),
        (
            json!({ "country": "US", "vatId": "123456789" }),
            "input.vatId",
        ),
        (json!({ "country": "DEU" }), "input.country"),
        (json!({ "company": "   " }), "input.company"),
        (json!({ "email": "not-an-address" }), "input.email"),
    ] {
        w.invalid(
            "adm",
            UPDATE,
            update(fields),
            "billing.update_details",
            field,
        )
        .await;
    }
    assert_eq!(stripe.calls().len(), 0, "no Stripe call for refusals");

    // Allowed (an admin): normalised, stored, audited by field name only.
    let body = w
        .allowed("adm", UPDATE, full, "billing.update_details")
        .await;
    assert_eq!(
        body["data"]["updateBillingDetails"]["billingDetails"],
        json!({ "company": "ACME GmbH", "vatId": "DE123456789", "country": "DE",
                "email": "billing@acme.example" })
    );
    let mut conn = w.db.connect().await;
    let audit = count(
        &mut conn,
        "audit_events WHERE action = 'billing.update_details' AND outcome = 'success'
           AND details->'changed' = '[\"company\", \"vatId\", \"country\", \"email\"]'::jsonb
           AND details::text NOT LIKE '%123456789%' AND details::text NOT LIKE '%acme.example%'
           AND details::text NOT LIKE '%GmbH%'",
    )
    .await;
    assert_eq!(audit, 1, "fields named, values not recorded");
    let read = w
        .query_with(
            "own",
            r#"query($slug: String!) { tenant(slug: $slug) { billingConfigured billingDetails { vatId email } } }"#,
            json!({ "slug": "acme" }),
        )
        .await;
    assert_eq!(
        read["data"]["tenant"],
        json!({ "billingConfigured": true,
                "billingDetails": { "vatId": "DE123456789", "email": "billing@acme.example" } })
    );
    let hidden = w
        .query_with(
            "mem",
            r#"query($slug: String!) { tenant(slug: $slug) { billingDetails { vatId } } }"#,
            json!({ "slug": "acme" }),
        )
        .await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // The tenant had no Stripe customer: the first payment method setup creates it, and the
    // details reach it.
    w.allowed(
        "own",
        START,
        json!({ "input": { "tenant": "acme" } }),
        "billing.start_payment_method_setup",
    )
    .await;
    let customer = || async {
        stripe
            .state()
            .customers
            .values()
            .next()
            .cloned()
            .unwrap_or(Value::Null)
    };
    let pushed = eventually("details pushed", customer, |c| {
        c["email"] == "billing@acme.example"
    })
    .await;
    assert_eq!(pushed["address"]["country"], "DE");
    assert_eq!(pushed["metadata"]["vat_id"], "DE123456789");
    assert_eq!(pushed["name"], "ACME GmbH");

    // A later change: only the e-mail, the VAT id cleared; pushed again.
    w.allowed(
        "own",
        UPDATE,
        update(json!({ "email": "ap@acme.example", "vatId": null })),
        "billing.update_details",
    )
    .await;
    let pushed = eventually("second push", customer, |c| c["email"] == "ap@acme.example").await;
    assert!(pushed["metadata"].get("vat_id").is_none(), "{pushed}");
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'billing.update_details' AND outcome = 'success'
               AND details->'changed' = '[\"vatId\", \"email\"]'::jsonb"
        )
        .await,
        1
    );
    assert!(stripe_calls(&stripe, "POST", "/v1/customers/") >= 2);
}
