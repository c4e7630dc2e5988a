//! The Stripe adapter against the Stripe fake.

use axum::http::Method;
use platform_api::upstream::config::StripeConfig;
use platform_api::upstream::stripe::{
    ChangeSubscription, EnsureCustomer, EnsureSubscription, HttpStripeClient, ListInvoices,
    NewSetupIntent, StripeClient, StripeError,
};
use platform_api::upstream::{CallError, HttpSettings, Secret};

use super::{SLOW, impatient, settings};
use crate::support::fakes::stripe::{self as fake, StripeState};
use crate::support::fakes::{Fake, FaultKind};

mod contract;

fn client_with(fake: &Fake<StripeState>, key: &str, http: &HttpSettings) -> HttpStripeClient {
    let config = StripeConfig {
        secret_key: Secret::new(key),
        api_base: fake.url.parse().unwrap(),
    };
    HttpStripeClient::new(&config, http).unwrap()
}

fn client(fake: &Fake<StripeState>) -> HttpStripeClient {
    client_with(fake, fake::SECRET_KEY, &settings())
}

fn ensure(tenant: &str, existing: Option<&str>) -> EnsureCustomer {
    EnsureCustomer {
        tenant_id: tenant.into(),
        existing_id: existing.map(str::to_owned),
        email: Some(format!("billing@{tenant}.example")),
        name: format!("Tenant {tenant}"),
    }
}

/// The subscription of the [`fixture`] (the fake numbers its objects in creation order).
const FIXTURE_SUBSCRIPTION: &str = "sub_fake000004";

fn subscribe(customer: &str, existing: Option<&str>) -> EnsureSubscription {
    EnsureSubscription {
        tenant_id: "t1".into(),
        customer_id: customer.into(),
        existing_id: existing.map(str::to_owned),
        price_id: "price_basic".into(),
        quantity: 3,
        plan: "basic".into(),
    }
}

/// A fake with one customer holding one card, an invoice and a subscription (3 seats of
/// `price_basic`); the calls that built it are forgotten.
async fn fixture() -> (Fake<StripeState>, String, String) {
    let fake = fake::spawn().await;
    let customer = client(&fake)
        .ensure_customer(&ensure("t1", None))
        .await
        .unwrap()
        .id;
    let card = fake.add_card(&customer, "visa", "4242");
    fake.add_invoice(&customer, 1200, "paid");
    fake.add_price("price_basic", 1000, "eur", "month");
    fake.add_price("price_plus", 1500, "eur", "month");
    let sub = client(&fake)
        .ensure_subscription(&subscribe(&customer, None))
        .await
        .unwrap();
    assert_eq!(sub.id, FIXTURE_SUBSCRIPTION);
    fake.clear_calls();
    (fake, customer, card)
}

/// Every operation, by name, with arguments that succeed on a fresh [`fixture`].
const OPERATIONS: [&str; 8] = [
    "ensure_customer",
    "create_setup_intent",
    "list_card_payment_methods",
    "set_default_payment_method",
    "list_invoices",
    "ensure_subscription",
    "change_subscription",
    "cancel_subscription_at_period_end",
];

async fn run(
    op: &str,
    client: &dyn StripeClient,
    customer: &str,
    card: &str,
) -> Result<(), StripeError> {
    match op {
        "ensure_customer" => client
            .ensure_customer(&ensure("t1", Some(customer)))
            .await
            .map(drop),
        "create_setup_intent" => {
            let request = NewSetupIntent {
                customer_id: customer.into(),
                idempotency_key: "job-1".into(),
            };
            client.create_setup_intent(&request).await.map(drop)
        }
        "list_card_payment_methods" => client.list_card_payment_methods(customer).await.map(drop),
        "set_default_payment_method" => client
            .set_default_payment_method(customer, card)
            .await
            .map(drop),
        "list_invoices" => {
            let request = ListInvoices {
                customer_id: customer.into(),
                limit: 10,
                starting_after: None,
            };
            client.list_invoices(&request).await.map(drop)
        }
        "ensure_subscription" => client
            .ensure_subscription(&subscribe(customer, Some(FIXTURE_SUBSCRIPTION)))
            .await
            .map(drop),
        "change_subscription" => {
            let request = ChangeSubscription {
                id: FIXTURE_SUBSCRIPTION.into(),
                price_id: "price_plus".into(),
                quantity: 4,
                plan: "plus".into(),
                idempotency_key: "job-9".into(),
            };
            client.change_subscription(&request).await.map(drop)
        }
        "cancel_subscription_at_period_end" => client
            .cancel_subscription_at_period_end(FIXTURE_SUBSCRIPTION)
            .await
            .map(drop),
        other => unreachable!("{other}"),
    }
}

#[tokio::test]
async fn ensure_customer_twice_creates_one_customer() {
    let fake = fake::spawn().await;
    let client = client(&fake);
    let first = client.ensure_customer(&ensure("acme", None)).await.unwrap();
    let second = client.ensure_customer(&ensure("acme", None)).await.unwrap();
    assert_eq!(
        first.id, second.id,
        "the idempotency key replays the creation"
    );
    assert_eq!(fake.state().customers.len(), 1);
    assert_eq!(first.metadata["dezky_tenant_id"], "acme");
    assert_eq!(first.email.as_deref(), Some("billing@acme.example"));

    let again = client
        .ensure_customer(&ensure("acme", Some(&first.id)))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(fake.calls_to(Method::POST, "/v1/customers").len(), 2);
    assert_eq!(fake.state().customers.len(), 1);
}

#[tokio::test]
async fn ensure_customer_replaces_a_deleted_customer_once() {
    let fake = fake::spawn().await;
    let client = client(&fake);
    let old = client.ensure_customer(&ensure("acme", None)).await.unwrap();
    fake.delete_customer(&old.id);
    let new = client
        .ensure_customer(&ensure("acme", Some(&old.id)))
        .await
        .unwrap();
    assert_ne!(new.id, old.id);
    let again = client
        .ensure_customer(&ensure("acme", Some(&old.id)))
        .await
        .unwrap();
    assert_eq!(
        again.id, new.id,
        "repeating the replacement creates nothing new"
    );
    assert_eq!(fake.state().live_customers(), 1);
}

#[tokio::test]
async fn ensure_customer_maps_stripe_errors() {
    let fake = fake::spawn().await;
    let mut bad = ensure("acme", None);
    bad.email = Some("not-an-address".into());
    let err = client(&fake).ensure_customer(&bad).await.unwrap_err();
    assert!(
        matches!(&err, StripeError::InvalidRequest { code: Some(c), param: Some(p), .. }
            if c == "email_invalid" && p == "email"),
        "{err:?}"
    );
    let err = client_with(&fake, "sk_test_wrong", &settings())
        .ensure_customer(&ensure("acme", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StripeError::Call(CallError::Unauthorized { status: 401 })
        ),
        "{err:?}"
    );
    assert_eq!(fake.state().customers.len(), 0);
}

#[tokio::test]
async fn setup_intents_are_created_once_per_key() {
    let (fake, customer, _) = fixture().await;
    let client = client(&fake);
    let request = NewSetupIntent {
        customer_id: customer.clone(),
        idempotency_key: "job-42".into(),
    };
    let first = client.create_setup_intent(&request).await.unwrap();
    let second = client.create_setup_intent(&request).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(fake.state().setup_intents.len(), 1);
    assert!(
        first
            .client_secret
            .expose()
            .starts_with(&format!("{}_secret_", first.id))
    );
    assert_eq!(format!("{:?}", first.client_secret), "Secret([REDACTED])");
    assert_eq!(first.status, "requires_payment_method");
    assert_eq!(first.customer.as_deref(), Some(customer.as_str()));
    let sent = fake.calls_to(Method::POST, "/v1/setup_intents");
    let body = std::str::from_utf8(&sent[0].body).unwrap();
    assert!(body.contains("payment_method_types%5B%5D=card"), "{body}");
    assert!(body.contains("usage=off_session"), "{body}");

    let err = client
        .create_setup_intent(&NewSetupIntent {
            customer_id: "cus_missing".into(),
            idempotency_key: "job-43".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::NotFound { param: Some(p), .. } if p == "customer"),
        "{err:?}"
    );
}

#[tokio::test]
async fn card_listing_follows_every_page() {
    let (fake, customer, first_card) = fixture().await;
    for i in 0..150 {
        fake.add_card(&customer, "mastercard", &format!("{:04}", i));
    }
    let other = client(&fake)
        .ensure_customer(&ensure("t2", None))
        .await
        .unwrap();
    fake.add_card(&other.id, "visa", "9999");
    fake.clear_calls();
    let cards = client(&fake)
        .list_card_payment_methods(&customer)
        .await
        .unwrap();
    assert_eq!(cards.len(), 151);
    assert_eq!(cards.last().unwrap().id, first_card, "newest first");
    assert_eq!(cards.last().unwrap().last4, "4242");
    assert!(
        cards.iter().all(|c| c.last4 != "9999"),
        "another customer's card"
    );
    let path = format!("/v1/customers/{customer}/payment_methods");
    let calls = fake.calls_to(Method::GET, &path);
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1]
            .query
            .as_deref()
            .unwrap()
            .contains("starting_after=pm_")
    );

    let err = client(&fake)
        .list_card_payment_methods("cus_missing")
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn default_payment_method_must_belong_to_the_customer() {
    let (fake, customer, card) = fixture().await;
    let client = client(&fake);
    let updated = client
        .set_default_payment_method(&customer, &card)
        .await
        .unwrap();
    assert_eq!(
        updated.default_payment_method.as_deref(),
        Some(card.as_str())
    );
    let sent = &fake.calls_to(Method::POST, &format!("/v1/customers/{customer}"))[0];
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        std::str::from_utf8(&sent.body).unwrap(),
        format!("invoice_settings%5Bdefault_payment_method%5D={card}")
    );

    let err = client
        .set_default_payment_method(&customer, "pm_missing")
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::NotFound { .. }), "{err:?}");
    let stranger = client.ensure_customer(&ensure("t2", None)).await.unwrap();
    let foreign = fake.add_card(&stranger.id, "visa", "1111");
    let err = client
        .set_default_payment_method(&customer, &foreign)
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::InvalidRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn invoices_are_paged_newest_first() {
    let (fake, customer, _) = fixture().await;
    let second = fake.add_invoice(&customer, 1500, "open");
    let third = fake.add_invoice(&customer, 900, "draft");
    let client = client(&fake);
    let mut request = ListInvoices {
        customer_id: customer.clone(),
        limit: 2,
        starting_after: None,
    };
    let page = client.list_invoices(&request).await.unwrap();
    assert!(page.has_more);
    let ids: Vec<_> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [third.as_str(), second.as_str()]);
    assert_eq!(page.items[0].amount_due, 900);
    assert_eq!(page.items[0].currency, "eur");
    request.starting_after = Some(second);
    let rest = client.list_invoices(&request).await.unwrap();
    assert!(!rest.has_more);
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].status.as_deref(), Some("paid"));

    request.customer_id = "cus_missing".into();
    request.starting_after = None;
    let err = client.list_invoices(&request).await.unwrap_err();
    assert!(matches!(err, StripeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn every_operation_times_out() {
    for op in OPERATIONS {
        let (fake, customer, card) = fixture().await;
        fake.delay_all(SLOW);
        let client = client_with(&fake, fake::SECRET_KEY, &impatient());
        let started = std::time::Instant::now();
        let err = run(op, &client, &customer, &card).await.unwrap_err();
        assert!(
            matches!(err, StripeError::Call(CallError::Timeout(_))),
            "{op}: {err:?}"
        );
        assert!(started.elapsed() < SLOW, "{op}: a timeout is not retried");
        assert_eq!(fake.calls().len(), 1, "{op}: one attempt");
    }
}

#[tokio::test]
async fn every_operation_recovers_from_a_503() {
    // GETs are safe and retried as they are. A keyed POST is not retried after a 5xx:
    // Stripe saved that answer under the key and would only replay it. The next call walks
    // past the spent key and succeeds, creating nothing twice.
    for op in OPERATIONS {
        let (fake, customer, card) = fixture().await;
        fake.fail_status(1, 503);
        let c = client(&fake);
        let first = run(op, &c, &customer, &card).await;
        let calls = fake.calls();
        assert!(calls[0].faulted, "{op}");
        if calls[0].method == Method::POST {
            assert!(first.is_err(), "{op}: the 503 is the answer");
            assert_eq!(calls.len(), 1, "{op}: not repeated under a spent key");
            run(op, &c, &customer, &card)
                .await
                .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        } else {
            first.unwrap_or_else(|e| panic!("{op}: {e:?}"));
            assert_eq!(calls[1].path, calls[0].path, "{op}: the same call again");
        }
    }
}

#[tokio::test]
async fn every_post_carries_an_idempotency_key() {
    let (fake, customer, card) = fixture().await;
    let client = client(&fake);
    for op in OPERATIONS {
        run(op, &client, &customer, &card).await.unwrap();
    }
    let posts: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == Method::POST)
        .collect();
    assert_eq!(
        posts.len(),
        4,
        "setup intent, default payment method, subscription change and cancellation"
    );
    for post in posts {
        assert!(
            post.header("idempotency-key")
                .is_some_and(|k| !k.is_empty())
        );
    }
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_keyed_post() {
    let (fake, customer, _) = fixture().await;
    fake.fail_next(1, FaultKind::Drop);
    let intent = client(&fake)
        .create_setup_intent(&NewSetupIntent {
            customer_id: customer,
            idempotency_key: "job-7".into(),
        })
        .await
        .unwrap();
    assert!(intent.id.starts_with("seti_"));
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(fake.state().setup_intents.len(), 1);
}

/// Finding 3 of issue 25: Stripe saves a 500 under its idempotency key and replays it for a
/// day. One upstream 500 must not block the tenant's customer: the next attempt sees the
/// replay, searches for a customer of the tenant, and creates under the next key.
#[tokio::test]
async fn a_saved_500_does_not_block_the_customer() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    fake.fail_next_on(
        1,
        FaultKind::Status {
            status: 500,
            retry_after: None,
        },
        Method::POST,
        "/v1/customers",
    );
    let err = c.ensure_customer(&ensure("t-500", None)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StripeError::Call(CallError::Unavailable { status: 500 })
        ),
        "{err:?}"
    );
    assert_eq!(
        fake.calls().len(),
        1,
        "a 500 is not retried under the same key"
    );
    let customer = c.ensure_customer(&ensure("t-500", None)).await.unwrap();
    assert_eq!(fake.state().live_customers(), 1);
    let posts = fake.calls_to(Method::POST, "/v1/customers");
    let keys: Vec<_> = posts
        .iter()
        .map(|p| p.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(
        keys[0], keys[1],
        "the spent key was tried once more and replayed"
    );
    assert_ne!(keys[1], keys[2], "then a new key");
    assert_eq!(fake.calls_to(Method::GET, "/v1/customers/search").len(), 1);
    // Repeating the call returns the same customer and creates nothing.
    let again = c.ensure_customer(&ensure("t-500", None)).await.unwrap();
    assert_eq!(again.id, customer.id);
    assert_eq!(fake.state().live_customers(), 1);
}

/// A creation that ran and then answered 500: the search finds the customer, so no second
/// one is made.
#[tokio::test]
async fn a_500_after_the_customer_was_made_creates_no_second_one() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    fake.state().fail_after_executing = 1;
    assert!(c.ensure_customer(&ensure("t-ran", None)).await.is_err());
    assert_eq!(fake.state().live_customers(), 1, "it ran");
    let customer = c.ensure_customer(&ensure("t-ran", None)).await.unwrap();
    assert_eq!(fake.state().live_customers(), 1, "found, not made again");
    assert_eq!(customer.metadata["dezky_tenant_id"], "t-ran");
}

/// Finding 5: Stripe also takes the key over Basic auth (key as user name, empty password).
#[tokio::test]
async fn the_fake_takes_basic_auth_like_stripe() {
    let (fake, customer, _) = fixture().await;
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/invoices", fake.url))
        .basic_auth(fake::SECRET_KEY, Some(""))
        .query(&[("customer", customer.as_str()), ("limit", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn a_subscription_is_created_once_changed_with_proration_and_cancelled() {
    let (fake, customer, _) = fixture().await;
    let client = client(&fake);
    // Ensuring again (no id known yet, or the known one) finds the same subscription.
    let again = client
        .ensure_subscription(&subscribe(&customer, None))
        .await
        .unwrap();
    assert_eq!(again.id, FIXTURE_SUBSCRIPTION);
    let known = client
        .ensure_subscription(&subscribe(&customer, Some(FIXTURE_SUBSCRIPTION)))
        .await
        .unwrap();
    assert_eq!(
        (known.quantity, known.unit_amount, known.currency.as_str()),
        (3, Some(1000), "eur")
    );
    assert_eq!(known.interval.as_deref(), Some("month"));
    assert_eq!(known.plan.as_deref(), Some("basic"));
    assert_eq!(fake.state().subscriptions.len(), 1);

    let change = ChangeSubscription {
        id: FIXTURE_SUBSCRIPTION.into(),
        price_id: "price_plus".into(),
        quantity: 5,
        plan: "plus".into(),
        idempotency_key: "job-1".into(),
    };
    let changed = client.change_subscription(&change).await.unwrap();
    assert_eq!(
        (changed.quantity, changed.price_id.as_str()),
        (5, "price_plus")
    );
    assert_eq!(changed.plan.as_deref(), Some("plus"));
    // The same job again: replayed, not applied twice.
    client.change_subscription(&change).await.unwrap();
    assert_eq!(fake.state().prorations.len(), 1);

    let cancelled = client
        .cancel_subscription_at_period_end(FIXTURE_SUBSCRIPTION)
        .await
        .unwrap();
    assert!(cancelled.cancel_at_period_end);
    assert_eq!(
        cancelled.status, "incomplete",
        "still running until the period ends"
    );

    let missing = client
        .cancel_subscription_at_period_end("sub_missing")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StripeError::NotFound { .. }),
        "{missing:?}"
    );
}
