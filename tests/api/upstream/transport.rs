//! The shared transport's retry rules, seen through the Stripe client (every client uses
//! the same transport).

use std::time::{Duration, Instant};

use platform_api::upstream::config::StripeConfig;
use platform_api::upstream::stripe::{HttpStripeClient, ListInvoices, StripeClient, StripeError};
use platform_api::upstream::{CallError, HttpSettings, Secret};

use super::settings;
use crate::support::fakes::FaultKind;
use crate::support::fakes::stripe as fake;

fn client(base: &str, http: &HttpSettings) -> HttpStripeClient {
    let config = StripeConfig {
        secret_key: Secret::new(fake::SECRET_KEY),
        api_base: base.parse().unwrap(),
    };
    HttpStripeClient::new(&config, http).unwrap()
}

fn invoices(customer: &str) -> ListInvoices {
    ListInvoices {
        customer_id: customer.into(),
        limit: 10,
        starting_after: None,
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = fake::spawn().await;
    fake.fail_next(
        1,
        FaultKind::Status {
            status: 429,
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    let page = client(&fake.url, &settings())
        .list_invoices(&invoices("cus_x"))
        .await;
    assert!(
        matches!(page, Err(StripeError::NotFound { .. })),
        "{page:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_call() {
    let fake = fake::spawn().await;
    fake.fail_next(
        1,
        FaultKind::Status {
            status: 429,
            retry_after: Some(60),
        },
    );
    let err = client(&fake.url, &settings())
        .list_invoices(&invoices("cus_x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StripeError::Call(CallError::RateLimited { retry_after: Some(d) }) if d == Duration::from_secs(60)
        ),
        "{err:?}"
    );
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = fake::spawn().await;
    fake.fail_status(10, 502);
    let err = client(&fake.url, &settings())
        .list_invoices(&invoices("cus_x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StripeError::Call(CallError::Unavailable { status: 502 })
        ),
        "{err:?}"
    );
    assert_eq!(fake.calls().len(), 3, "the first attempt and two retries");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&base, &settings())
        .list_invoices(&invoices("cus_x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Call(CallError::Connect(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error_when_retries_run_out() {
    let fake = fake::spawn().await;
    fake.fail_next(10, FaultKind::Drop);
    let err = client(&fake.url, &settings())
        .list_invoices(&invoices("cus_x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Call(CallError::Connection(_))),
        "{err:?}"
    );
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test]
async fn retry_after_on_a_503_is_honoured_too() {
    let fake = fake::spawn().await;
    fake.fail_next(
        1,
        FaultKind::Status {
            status: 503,
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    let _ = client(&fake.url, &settings())
        .list_invoices(&invoices("cus_x"))
        .await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.calls().len(), 2);
}
