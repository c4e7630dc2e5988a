//! The verified-token cache (src/auth/token_cache.rs) through the real endpoint: a token is
//! verified once, and a key rotation at the issuer drops what was verified with the old key.

use std::time::Duration;

use crate::support::oidc::{FakeIssuer, TestKey};
use crate::support::{TestApp, Token};

async fn app_trusting(issuer: &FakeIssuer, cooldown: Duration, capacity: u64) -> TestApp {
    let iss = issuer.issuer();
    TestApp::spawn_with(move |c| {
        c.auth.issuers = vec![iss];
        c.auth.jwks_refetch_cooldown = cooldown;
        c.auth.token_cache_capacity = capacity;
    })
    .await
}

/// `me`'s error code, `None` when the token is accepted.
async fn me_code(app: &TestApp, token: &str) -> Option<String> {
    let body = app.graphql_as(token, "{ me { user { email } } }").await;
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

fn stats(app: &TestApp) -> (u64, u64) {
    app.state.auth.verifier.cache().stats()
}

#[tokio::test]
async fn a_token_is_verified_once_and_then_found_by_its_hash() {
    let key = TestKey::es256("ec-1");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, Duration::from_secs(3600), 100).await;
    let alice = Token::portal("alice").sign_oidc(&idp, &key);
    assert_eq!(me_code(&app, &alice).await, None);
    assert_eq!(stats(&app), (0, 1), "the first request verifies");
    for _ in 0..3 {
        assert_eq!(me_code(&app, &alice).await, None);
    }
    assert_eq!(stats(&app), (3, 1), "the next ones find it");
    // Another token of the same user is another entry.
    let again = Token::portal("alice")
        .ttl(Duration::from_secs(1_800))
        .sign_oidc(&idp, &key);
    assert_ne!(again, alice);
    assert_eq!(me_code(&app, &again).await, None);
    assert_eq!(stats(&app), (3, 2));
    // A refused token is never remembered: refused every time.
    let at = alice.len() - 20;
    let flipped = if &alice[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &alice[..at], &alice[at + 1..]);
    for _ in 0..2 {
        assert_eq!(
            me_code(&app, &forged).await.as_deref(),
            Some("UNAUTHENTICATED")
        );
    }
    assert_eq!(app.state.auth.verifier.cache().len(), 2);
}

#[tokio::test]
async fn a_key_rotation_drops_tokens_verified_with_the_old_key() {
    let (old, new) = (TestKey::es256("2026-old"), TestKey::es256("2026-new"));
    let idp = FakeIssuer::start(vec![old.clone()]).await;
    let cooldown = Duration::from_millis(200);
    let app = app_trusting(&idp, cooldown, 100).await;
    let cached = Token::portal("a").sign_oidc(&idp, &old);
    assert_eq!(me_code(&app, &cached).await, None);
    assert_eq!(me_code(&app, &cached).await, None);
    assert_eq!(stats(&app).0, 1, "cached");
    // The issuer withdraws the old key; a token with the new kid makes us fetch the keys.
    idp.publish(vec![new.clone()]);
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
    let fresh = Token::portal("b").sign_oidc(&idp, &new);
    assert_eq!(me_code(&app, &fresh).await, None);
    assert_eq!(idp.jwks_fetches(), 2);
    // The very same token string that was cached is now refused.
    assert_eq!(
        me_code(&app, &cached).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn capacity_zero_verifies_every_time() {
    let key = TestKey::es256("ec-1");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, Duration::from_secs(3600), 0).await;
    let alice = Token::portal("alice").sign_oidc(&idp, &key);
    for _ in 0..3 {
        assert_eq!(me_code(&app, &alice).await, None);
    }
    assert_eq!(stats(&app), (0, 0));
    assert!(app.state.auth.verifier.cache().is_empty());
}
