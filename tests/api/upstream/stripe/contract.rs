//! The Stripe fake held to Stripe's documented rules (the `stripe` part of the contract
//! table): requests outside them are violations that fail the test that sent them, and every
//! adapter operation maps to operations the table has.

use std::panic::AssertUnwindSafe;

use platform_api::upstream::stripe::StripeClient;

use super::{OPERATIONS, client, ensure, fixture, run};
use crate::support::fakes::stripe::{self as fake, contract::operation_ids};

/// A JSON body, an undocumented auth scheme, a Basic password, an unknown path, a GET with
/// a body and a limit past 100 are each refused and recorded, naming the operation.
#[tokio::test]
async fn the_fake_catches_requests_outside_the_contract() {
    let (fake, customer, _) = fixture().await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", fake.url);
    let json_body = http
        .post(url("/v1/customers"))
        .bearer_auth(fake::SECRET_KEY)
        .json(&serde_json::json!({"name": "Acme"}))
        .send();
    let token_scheme = http
        .get(url(&format!("/v1/customers/{customer}")))
        .header("authorization", format!("Token {}", fake::SECRET_KEY))
        .send();
    let basic_password = http
        .get(url("/v1/invoices"))
        .basic_auth(fake::SECRET_KEY, Some("password"))
        .send();
    let unknown = http
        .delete(url(&format!("/v1/customers/{customer}")))
        .bearer_auth(fake::SECRET_KEY)
        .send();
    let get_body = http
        .get(url("/v1/invoices"))
        .bearer_auth(fake::SECRET_KEY)
        .body("customer=cus_x")
        .send();
    let big_page = http
        .get(url("/v1/invoices?limit=101"))
        .bearer_auth(fake::SECRET_KEY)
        .send();
    assert_eq!(json_body.await.unwrap().status(), 400);
    assert_eq!(token_scheme.await.unwrap().status(), 401);
    assert_eq!(basic_password.await.unwrap().status(), 401);
    assert_eq!(unknown.await.unwrap().status(), 404);
    assert_eq!(get_body.await.unwrap().status(), 400);
    let answer = big_page.await.unwrap();
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(
        fake.state().live_customers(),
        1,
        "the JSON body created nothing"
    );

    let violations = fake.take_violations();
    assert_eq!(violations.len(), 6, "{violations:#?}");
    assert!(violations[0].contains("PostCustomers") && violations[0].contains("not form-encoded"));
    assert!(
        violations[1].contains("GetCustomersCustomer (GET")
            && violations[1].contains("neither as `Bearer <key>`")
    );
    assert!(violations[2].contains("GetInvoices") && violations[2].contains("Basic base64"));
    assert!(
        violations[3].contains("DELETE /v1/customers/")
            && violations[3].contains("the table has only GET (GetCustomersCustomer)")
    );
    assert!(violations[4].contains("GetInvoices") && violations[4].contains("not a body"));
    assert!(violations[5].contains("GetInvoices") && violations[5].contains("limit \"101\""));

    // Basic with the key as user name and no password is documented, and a wrong key in a
    // documented scheme is Stripe's 401, not a violation.
    let basic = http
        .get(url(&format!("/v1/customers/{customer}")))
        .basic_auth(fake::SECRET_KEY, None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let wrong_key = http
        .get(url(&format!("/v1/customers/{customer}")))
        .bearer_auth("sk_test_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 401);
    assert!(fake.take_violations().is_empty());
}

/// A violation nobody takes fails the test that caused it: dropping the fake panics.
#[tokio::test]
async fn an_untaken_violation_fails_the_test() {
    let fake = fake::spawn().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/setup_intents", fake.url))
        .bearer_auth(fake::SECRET_KEY)
        .json(&serde_json::json!({"customer": "cus_x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(move || drop(fake)));
    let panic = dropped.expect_err("dropping a fake with violations panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("1 contract violation") && message.contains("PostSetupIntents"),
        "{message}"
    );
}

/// Every adapter operation and the Stripe operations it maps to (run against the fake held
/// to the rules: a call the table does not have is refused and fails the test).
const SPEC_OPERATIONS: [(&str, &[&str]); 8] = [
    ("ensure_customer", &["GetCustomersCustomer"]),
    ("create_setup_intent", &["PostSetupIntents"]),
    (
        "list_card_payment_methods",
        &["GetCustomersCustomerPaymentMethods"],
    ),
    ("set_default_payment_method", &["PostCustomersCustomer"]),
    ("list_invoices", &["GetInvoices"]),
    (
        "ensure_subscription",
        &["GetSubscriptionsSubscriptionExposedId"],
    ),
    (
        "change_subscription",
        &[
            "GetSubscriptionsSubscriptionExposedId",
            "PostSubscriptionsSubscriptionExposedId",
        ],
    ),
    (
        "cancel_subscription_at_period_end",
        &["PostSubscriptionsSubscriptionExposedId"],
    ),
];

#[tokio::test]
async fn every_operation_maps_to_spec_operations_in_the_table() {
    let table = operation_ids();
    assert_eq!(
        SPEC_OPERATIONS.len(),
        OPERATIONS.len(),
        "every adapter operation is listed"
    );
    for (op, spec) in SPEC_OPERATIONS {
        assert!(OPERATIONS.contains(&op), "{op}");
        for id in spec {
            assert!(
                table.iter().any(|t| t == id),
                "{op}: {id} is not in the table"
            );
        }
        let (fake, customer, card) = fixture().await;
        fake.clear_operations();
        run(op, &client(&fake), &customer, &card)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let mut seen = fake.operations();
        seen.dedup();
        assert_eq!(seen, spec, "{op}");
    }
    // Creation, and the search after a key spent by a saved 500, from an empty fake.
    let fake = fake::spawn().await;
    let c = client(&fake);
    let gone = c.ensure_customer(&ensure("t9", None)).await.unwrap().id;
    fake.delete_customer(&gone);
    fake.state().fail_after_executing = 1;
    c.ensure_customer(&ensure("t9", Some(&gone)))
        .await
        .unwrap_err();
    c.ensure_customer(&ensure("t9", Some(&gone))).await.unwrap();
    let mut seen = fake.operations();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "PostCustomers",
            "GetCustomersCustomer",
            "PostCustomers",
            "GetCustomersCustomer",
            "PostCustomers",
            "GetCustomersSearch",
        ]
    );
}
