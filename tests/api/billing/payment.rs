//! The payment method through Stripe: `startPaymentMethodSetup` (the customer on demand, the
//! SetupIntent's client secret to the caller only), `setDefaultPaymentMethod` (a card of
//! another customer refused, no Stripe write), `Tenant.paymentMethod`, the webhook's
//! `setup_intent.succeeded` and `payment_method.attached|detached`; and no card data in any
//! table.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::webhook::{NEW_SECRET, deliver, now, settled, signature};
use super::{eventually, stripe_app, stripe_calls};
use crate::support::fakes;
use crate::support::{Role, World};

const START: &str = r#"
mutation($input: StartPaymentMethodSetupInput!) {
  startPaymentMethodSetup(input: $input) { clientSecret publishableKey }
}"#;

const SET_DEFAULT: &str = r#"
mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) { tenant { paymentMethod { id brand last4 expMonth expYear } } }
}"#;

const CARD: &str = r#"
query($slug: String!) { tenant(slug: $slug) { paymentMethod { id brand last4 expMonth expYear } } }"#;

fn tenant(slug: &str) -> Value {
    json!({ "input": { "tenant": slug } })
}

fn default_of(slug: &str, pm: &str) -> Value {
    json!({ "input": { "tenant": slug, "paymentMethod": pm } })
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Every text, varchar and JSON column of every table in `public` that holds any of
/// `needles` (case-insensitive): `table.column` names.
async fn columns_holding(w: &World, needles: &[&str]) -> Vec<String> {
    let mut conn = w.db.connect().await;
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'character varying', 'json', 'jsonb')",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert!(columns.len() > 20, "the scan sees the schema");
    let mut found = Vec::new();
    for c in columns {
        for needle in needles {
            let sql = format!(
                "SELECT count(*) AS n FROM \"{}\" WHERE \"{}\"::text ILIKE '%' || $1 || '%'",
                c.table_name, c.column_name
            );
            let hits: Hits = diesel::sql_query(sql)
                .bind::<Text, _>(*needle)
                .get_result(&mut conn)
                .await
                .unwrap();
            if hits.n > 0 {
                found.push(format!("{}.{} ({needle})", c.table_name, c.column_name));
            }
        }
    }
    found
}

fn event(id: &str, kind: &str, object: Value) -> String {
    json!({ "id": id, "object": "event", "type": kind, "created": now(), "livemode": false,
            "data": { "object": object } })
    .to_string()
}

#[tokio::test]
async fn cards_are_set_up_through_stripe_and_never_stored() {
    let stripe = fakes::stripe::spawn().await;
    let w = World::new()
        .tenant("acme")
        .tenant("globex")
        .operator("root")
        .member("own", "acme", Role::Owner)
        .member("mem", "acme", Role::Member)
        .user("stranger")
        .build(stripe_app(&stripe).await)
        .await;

    // Denied: nothing called in Stripe, nothing written.
    for (who, code) in [
        (Some("mem"), "FORBIDDEN"),
        (Some("stranger"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(
            who,
            START,
            tenant("acme"),
            "billing.start_payment_method_setup",
            code,
        )
        .await;
        w.denied(
            who,
            SET_DEFAULT,
            default_of("acme", "pm_x"),
            "billing.set_default_payment_method",
            code,
        )
        .await;
    }
    assert_eq!(stripe.calls().len(), 0, "no Stripe call for refusals");

    // Allowed: the customer is created on demand, once; each setup is a new SetupIntent.
    let body = w
        .allowed(
            "own",
            START,
            tenant("acme"),
            "billing.start_payment_method_setup",
        )
        .await;
    let setup = &body["data"]["startPaymentMethodSetup"];
    let secret = setup["clientSecret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("seti_") && secret.contains("_secret_"),
        "{secret}"
    );
    assert_eq!(setup["publishableKey"], fakes::stripe::PUBLISHABLE_KEY);
    w.allowed(
        "own",
        START,
        tenant("acme"),
        "billing.start_payment_method_setup",
    )
    .await;
    assert_eq!(stripe.state().live_customers(), 1);
    assert_eq!(stripe.state().setup_intents.len(), 2);
    let acme_customer = stripe.state().customers.keys().next().unwrap().clone();
    w.allowed(
        "root",
        START,
        tenant("globex"),
        "billing.start_payment_method_setup",
    )
    .await;
    let other_customer = stripe
        .state()
        .customers
        .keys()
        .find(|c| **c != acme_customer)
        .unwrap()
        .clone();

    // Cards saved in Stripe (as Elements would): one of acme's, one of globex's.
    let visa = stripe.add_card(&acme_customer, "visa", "4242");
    let foreign = stripe.add_card(&other_customer, "mastercard", "5454");
    let no_card = w.query_with("own", CARD, json!({ "slug": "acme" })).await;
    assert_eq!(no_card["data"]["tenant"]["paymentMethod"], Value::Null);

    // Another customer's card: NOT_FOUND, and no Stripe write.
    let writes = stripe_calls(&stripe, "POST", "/v1/customers/");
    w.refused(
        Some("own"),
        SET_DEFAULT,
        default_of("acme", &foreign),
        "billing.set_default_payment_method",
        "NOT_FOUND",
        "failure",
    )
    .await;
    w.invalid(
        "own",
        SET_DEFAULT,
        default_of("acme", "card_4242"),
        "billing.set_default_payment_method",
        "input.paymentMethod",
    )
    .await;
    assert_eq!(stripe_calls(&stripe, "POST", "/v1/customers/"), writes);
    assert_eq!(
        stripe.state().customers[&acme_customer]["invoice_settings"]["default_payment_method"],
        Value::Null
    );

    // Its own card: the default in Stripe, shown from Stripe.
    let body = w
        .allowed(
            "own",
            SET_DEFAULT,
            default_of("acme", &visa),
            "billing.set_default_payment_method",
        )
        .await;
    assert_eq!(
        body["data"]["setDefaultPaymentMethod"]["tenant"]["paymentMethod"],
        json!({ "id": visa, "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030 })
    );
    assert_eq!(
        stripe.state().customers[&acme_customer]["invoice_settings"]["default_payment_method"],
        visa.as_str()
    );

    // Webhook: a SetupIntent succeeds with a new card, which becomes the default (in Stripe
    // through a job); the old card is detached.
    let amex = stripe.add_card(&acme_customer, "amex", "0005");
    for body in [
        event(
            "evt_pm_1",
            "payment_method.attached",
            json!({ "id": amex, "object": "payment_method", "customer": acme_customer,
                    "type": "card", "billing_details": { "name": "Ada L" },
                    "card": { "brand": "amex", "last4": "0005", "exp_month": 12, "exp_year": 2030 } }),
        ),
        event(
            "evt_si_1",
            "setup_intent.succeeded",
            json!({ "id": "seti_fake_done", "object": "setup_intent", "customer": acme_customer,
                    "status": "succeeded", "payment_method": amex,
                    "client_secret": "seti_fake_done_secret_zzz" }),
        ),
        event(
            "evt_pm_2",
            "payment_method.detached",
            json!({ "id": visa, "object": "payment_method", "customer": null, "type": "card",
                    "card": { "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030 } }),
        ),
    ] {
        let (status, reply) =
            deliver(&w, &body, Some(&signature(&body, now(), &[NEW_SECRET]))).await;
        assert_eq!(status, 200, "{reply}");
    }
    settled(&w).await;
    let customer_default = || async {
        stripe.state().customers[&acme_customer]["invoice_settings"]["default_payment_method"]
            .clone()
    };
    eventually("the new default in Stripe", customer_default, |d| {
        d == amex.as_str()
    })
    .await;
    let shown = w.query_with("own", CARD, json!({ "slug": "acme" })).await;
    assert_eq!(
        shown["data"]["tenant"]["paymentMethod"]["last4"], "0005",
        "{shown}"
    );
    let mut conn = w.db.connect().await;
    for action in [
        "billing.payment_method.attached",
        "billing.payment_method.setup_succeeded",
    ] {
        let n = crate::support::tables::count(
            &mut conn,
            &format!("audit_events WHERE action = '{action}' AND actor_user_id IS NULL"),
        )
        .await;
        assert_eq!(n, 1, "{action}");
    }
    // The detached card was not the default any more: nothing to forget, still applied once.
    assert_eq!(
        crate::support::tables::count(&mut conn, "stripe_events WHERE status = 'applied'").await
            + crate::support::tables::count(&mut conn, "stripe_events WHERE status = 'ignored'")
                .await,
        3
    );

    // Nothing card-like in any table, nor any client secret.
    let found = columns_holding(
        &w,
        &[
            "last4",
            "exp_month",
            "exp_year",
            "amex",
            "mastercard",
            "\"visa\"",
            "_secret_",
            &secret,
        ],
    )
    .await;
    assert!(found.is_empty(), "card data or secrets stored: {found:?}");
}
