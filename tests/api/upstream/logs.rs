//! No credential or secret reaches the logs, while every call leaves a span with what was
//! called and how it went.

use platform_api::upstream::Credentials;
use platform_api::upstream::Secret;
use platform_api::upstream::authentik::{AuthentikClient, HttpAuthentikClient, NewUser};
use platform_api::upstream::config::StripeConfig;
use platform_api::upstream::config::{AuthentikConfig, OcisConfig, StalwartConfig};
use platform_api::upstream::ocis::{HttpOcisClient, OcisClient};
use platform_api::upstream::stalwart::{HttpStalwartClient, NewAccount, StalwartClient};
use platform_api::upstream::stripe::{
    EnsureCustomer, HttpStripeClient, NewSetupIntent, StripeClient,
};

use super::settings;
use crate::support::fakes::authentik as authentik_fake;
use crate::support::fakes::ocis as ocis_fake;
use crate::support::fakes::stalwart as stalwart_fake;
use crate::support::fakes::stripe as stripe_fake;
use crate::support::logs;

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    logs::install();
    let stripe = stripe_fake::spawn().await;
    let config = StripeConfig {
        secret_key: Secret::new(stripe_fake::SECRET_KEY),
        api_base: stripe.url.parse().unwrap(),
    };
    let client = HttpStripeClient::new(&config, &settings()).unwrap();
    let customer = client
        .ensure_customer(&EnsureCustomer {
            tenant_id: "logs-tenant".into(),
            existing_id: None,
            email: Some("billing@logs.example".into()),
            name: "Logs".into(),
        })
        .await
        .unwrap();
    let intent = client
        .create_setup_intent(&NewSetupIntent {
            customer_id: customer.id.clone(),
            idempotency_key: "logs-job".into(),
        })
        .await
        .unwrap();
    // A GET is retried after a 503 (a keyed POST is not: Stripe would replay the 503).
    stripe.fail_status(1, 503);
    client
        .list_card_payment_methods(&customer.id)
        .await
        .unwrap();
    let wrong = StripeConfig {
        secret_key: Secret::new("sk_test_wrong_key_for_logs"),
        ..config
    };
    let refused = HttpStripeClient::new(&wrong, &settings())
        .unwrap()
        .list_card_payment_methods(&customer.id)
        .await;
    assert!(refused.is_err());

    let authentik = authentik_fake::spawn().await;
    let config = AuthentikConfig {
        url: authentik.url.parse().unwrap(),
        token: Secret::new(authentik_fake::TOKEN),
    };
    let client = HttpAuthentikClient::new(&config, &settings()).unwrap();
    let user = client
        .ensure_user(&NewUser {
            username: "logs-user".into(),
            name: "Logs".into(),
            email: None,
            path: None,
        })
        .await
        .unwrap();
    authentik.fail_status(1, 500);
    client
        .set_password(user.pk, &Secret::new("pw-logs-Zq8!x"))
        .await
        .unwrap();
    let wrong = AuthentikConfig {
        token: Secret::new("ak-wrong-token-for-logs"),
        ..config
    };
    let refused = HttpAuthentikClient::new(&wrong, &settings())
        .unwrap()
        .count_authenticators(user.pk)
        .await;
    assert!(refused.is_err());

    let stalwart = stalwart_fake::spawn().await;
    let config = StalwartConfig {
        url: stalwart.url.parse().unwrap(),
        credentials: Credentials::Basic {
            username: stalwart_fake::ADMIN.into(),
            password: Secret::new(stalwart_fake::ADMIN_PASSWORD),
        },
    };
    let client = HttpStalwartClient::new(&config, &settings()).unwrap();
    let domain = client.ensure_domain("logs.example").await.unwrap();
    client
        .ensure_account(&NewAccount {
            name: "logs".into(),
            domain_id: domain.id,
            password: Secret::new("mailbox-pw-Lq7!zz"),
            quota_bytes: None,
            description: None,
        })
        .await
        .unwrap();
    let basic = {
        use base64::Engine;
        let pair = format!("{}:{}", stalwart_fake::ADMIN, stalwart_fake::ADMIN_PASSWORD);
        base64::engine::general_purpose::STANDARD.encode(pair)
    };

    let ocis = ocis_fake::spawn().await;
    let config = OcisConfig {
        url: ocis.url.parse().unwrap(),
        credentials: Credentials::Bearer(Secret::new(ocis_fake::TOKEN)),
    };
    HttpOcisClient::new(&config, &settings())
        .unwrap()
        .ensure_user(&platform_api::upstream::ocis::NewUser {
            username: "logs".into(),
            display_name: "Logs".into(),
            mail: "files@logs.example".into(),
            password: Secret::new("files-pw-Mm3#q"),
        })
        .await
        .unwrap();

    let spans = logs::lines_containing(r#""system":"stripe""#);
    assert!(
        spans
            .iter()
            .any(|l| l.contains(r#""path":"/v1/setup_intents""#) && l.contains(r#""status":200"#)),
        "calls are logged with their path and status: {spans:#?}"
    );
    assert!(
        spans.iter().any(|l| l.contains("retrying")),
        "the retry is logged"
    );
    let spans = logs::lines_containing(r#""system":"authentik""#);
    assert!(
        spans
            .iter()
            .any(|l| l.contains("set_password") && l.contains(r#""status":204"#)),
        "{spans:#?}"
    );
    assert!(
        spans.iter().any(|l| l.contains(r#""status":403"#)),
        "{spans:#?}"
    );
    let stalwart_spans = logs::lines_containing(r#""system":"stalwart""#);
    assert!(
        stalwart_spans
            .iter()
            .any(|l| l.contains(r#""path":"/jmap/""#)),
        "{stalwart_spans:#?}"
    );
    for secret in [
        stripe_fake::SECRET_KEY,
        "sk_test_wrong_key_for_logs",
        intent.client_secret.expose(),
        "billing@logs.example",
        authentik_fake::TOKEN,
        "ak-wrong-token-for-logs",
        "pw-logs-Zq8!x",
        stalwart_fake::ADMIN_PASSWORD,
        &basic,
        "mailbox-pw-Lq7!zz",
        ocis_fake::TOKEN,
        "files-pw-Mm3#q",
    ] {
        let leaked = logs::lines_containing(secret);
        assert!(leaked.is_empty(), "{secret} leaked: {leaked:#?}");
    }
}
