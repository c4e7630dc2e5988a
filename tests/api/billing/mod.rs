//! Billing: the plan catalogue, subscriptions, invoices, the Stripe webhook, billing details,
//! the payment method, the payout ledger and the gate (Stripe keys and the flag).

mod details;
mod gate;
mod invoices;
mod payment;
mod payouts;
mod plans;
mod statements;
mod subscriptions;
mod webhook;

use std::time::{Duration, Instant};

use platform_api::upstream::Secret;
use platform_api::upstream::config::StripeConfig;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::fakes::stripe::StripeState;
use crate::support::fakes::{self, Fake};

/// An app with Stripe on `stripe` (publishable key set, the webhook's secret
/// [`webhook::NEW_SECRET`]) and one quick job worker.
pub async fn stripe_app(stripe: &Fake<StripeState>) -> TestApp {
    let url = stripe.url.clone();
    TestApp::spawn_with(move |c| {
        c.upstreams.stripe = Some(StripeConfig {
            secret_key: Secret::new(fakes::stripe::SECRET_KEY),
            api_base: url.parse().unwrap(),
        });
        c.upstreams.http.max_retries = 0;
        c.upstreams.stripe_publishable_key = Some(fakes::stripe::PUBLISHABLE_KEY.into());
        c.upstreams.stripe_webhook_secret = Some(Secret::new(webhook::NEW_SECRET));
        crate::provisioning::quick_jobs(c, 1);
    })
    .await
}

/// How many calls the fake saw with `method` on a path starting with `prefix`.
pub fn stripe_calls(stripe: &Fake<StripeState>, method: &str, prefix: &str) -> usize {
    stripe
        .calls()
        .iter()
        .filter(|c| c.method.as_str() == method && c.path.starts_with(prefix))
        .count()
}

/// Polls `probe` until `done` or panics after 20 s.
pub async fn eventually<F, Fut>(what: &str, probe: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = probe().await;
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
