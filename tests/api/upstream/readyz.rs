//! Upstreams are enabled by configuration, and `/readyz` says which.

use std::collections::HashMap;

use platform_api::config::{Config, UpstreamsConfig};
use platform_api::upstream::stripe::EnsureCustomer;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fakes::stripe as stripe_fake;

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn with_no_upstream_configured_each_is_reported_disabled() {
    let defaults = Config::from_lookup(|_| None).unwrap();
    assert_eq!(defaults.upstreams, UpstreamsConfig::default());
    let app = TestApp::spawn().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(
        status, 200,
        "disabled upstreams do not make the service unready"
    );
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["upstreams"],
        json!({"authentik": "disabled", "stalwart": "disabled", "ocis": "disabled", "stripe": "disabled"})
    );
    assert!(app.state.upstreams.stripe.is_none());
}

#[tokio::test]
async fn a_configured_upstream_is_enabled_and_wired_into_the_app() {
    let stripe = stripe_fake::spawn().await;
    let vars: HashMap<&str, String> = [
        ("STRIPE_SECRET_KEY", stripe_fake::SECRET_KEY.to_owned()),
        ("STRIPE_API_BASE", stripe.url.clone()),
        ("STRIPE_WEBHOOK_SECRET", "whsec_readyz".to_owned()),
    ]
    .into();
    let upstreams = Config::from_lookup(|k| vars.get(k).cloned())
        .unwrap()
        .upstreams;
    let app = TestApp::spawn_with(|c| c.upstreams = upstreams).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200);
    assert_eq!(body["upstreams"]["stripe"], "enabled");
    assert_eq!(body["upstreams"]["authentik"], "disabled");
    assert!(
        stripe.calls().is_empty(),
        "readiness does not call upstreams"
    );

    let client = app.state.upstreams.stripe.clone().expect("a Stripe client");
    let customer = client
        .ensure_customer(&EnsureCustomer {
            tenant_id: "wired".into(),
            existing_id: None,
            email: None,
            name: "Wired".into(),
        })
        .await
        .unwrap();
    assert_eq!(stripe.state().customers.len(), 1);
    assert!(customer.id.starts_with("cus_"));
    assert_eq!(
        app.state
            .upstreams
            .stripe_webhook_secret
            .as_ref()
            .unwrap()
            .expose(),
        "whsec_readyz"
    );
}
