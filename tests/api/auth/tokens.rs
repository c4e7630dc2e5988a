//! Token verification against a loopback identity provider the test controls.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::oidc::{FakeIssuer, Mode, TestKey, now};
use crate::support::{TestApp, Token};

async fn app_trusting(issuer: &FakeIssuer, cooldown: Duration, max_age: Duration) -> TestApp {
    let iss = issuer.issuer();
    TestApp::spawn_with(move |c| {
        c.auth.issuers = vec![iss];
        c.auth.jwks_refetch_cooldown = cooldown;
        c.auth.jwks_max_age = max_age;
        // These tests send floods of refused tokens from one address: not a rate-limit test.
        c.limits.anonymous = platform_api::http::limits::Rate::per_minute(1_000_000);
    })
    .await
}

/// The error code `me` answers with, or `None` when the token is accepted.
async fn me_code(app: &TestApp, token: &str) -> Option<String> {
    let body = app
        .graphql_as(token, "{ me { user { email } audience } }")
        .await;
    match body["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => Some(code.to_owned()),
        None => {
            assert!(body["data"]["me"]["user"].is_object(), "{body}");
            None
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted() {
    let (ec, rsa) = (TestKey::es256("ec-1"), TestKey::rs256("rsa-1"));
    let idp = FakeIssuer::start(vec![ec.clone(), rsa.clone()]).await;
    let app = app_trusting(&idp, HOUR, HOUR).await;
    assert_eq!(
        me_code(&app, &Token::portal("alice").sign_oidc(&idp, &ec)).await,
        None
    );
    assert_eq!(
        me_code(&app, &Token::operator("bob").sign_oidc(&idp, &rsa)).await,
        None
    );
    let body = app
        .graphql_as(
            &Token::operator("bob").sign_oidc(&idp, &rsa),
            "{ me { audience } }",
        )
        .await;
    assert_eq!(body["data"]["me"]["audience"], "OPERATOR");
    // An array audience is accepted when it contains an accepted audience.
    let mut claims = Token::portal("carol").audience("x").claims(&idp);
    claims["aud"] = json!(["other", "dezky-portal"]);
    assert_eq!(me_code(&app, &ec.sign(&claims)).await, None);
    assert_eq!(
        (idp.discovery_fetches(), idp.jwks_fetches()),
        (1, 1),
        "keys fetched once and cached"
    );
}

#[tokio::test]
async fn every_bad_token_is_unauthenticated() {
    let key = TestKey::es256("ec-1");
    let rsa = TestKey::rs256("rsa-1");
    let idp = FakeIssuer::start(vec![key.clone(), rsa.clone()]).await;
    let app = app_trusting(&idp, HOUR, HOUR).await;
    let good = Token::portal("mallory").claims(&idp);
    assert_eq!(
        me_code(&app, &key.sign(&good)).await,
        None,
        "the baseline token is fine"
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        key.sign(&c)
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT", "kid": "ec-1" })),
        b64(&good)
    );
    // HS256 "signed" with the RSA public key, the classic key-confusion attack.
    let public_key_bytes = serde_json::to_vec(&rsa.jwk).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(&public_key_bytes),
    )
    .unwrap();
    let foreign = TestKey::es256("ec-1"); // same kid, different key

    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("wrong aud", with(&|c| c["aud"] = json!("someone-else"))),
        (
            "missing aud",
            with(&|c| drop(c.as_object_mut().unwrap().remove("aud"))),
        ),
        (
            "wrong iss",
            with(&|c| c["iss"] = json!("http://127.0.0.1:1/application/o/evil/")),
        ),
        (
            "missing iss",
            with(&|c| drop(c.as_object_mut().unwrap().remove("iss"))),
        ),
        (
            "missing sub",
            with(&|c| drop(c.as_object_mut().unwrap().remove("sub"))),
        ),
        (
            "missing exp",
            with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))),
        ),
        (
            "expired beyond leeway",
            with(&|c| c["exp"] = json!(now() - 120)),
        ),
        (
            "nbf in the future",
            with(&|c| c["nbf"] = json!(now() + 300)),
        ),
        ("unknown kid", key.sign_as("nope", &good)),
        ("missing kid", {
            let mut h = Header::new(Algorithm::ES256);
            h.kid = None;
            let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(
                &p256::SecretKey::random(&mut rand_core::OsRng),
                p256::pkcs8::LineEnding::LF,
            )
            .unwrap();
            jsonwebtoken::encode(
                &h,
                &good,
                &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            )
            .unwrap()
        }),
        (
            "signed by another key under a known kid",
            foreign.sign(&good),
        ),
        ("tampered payload", {
            let token = key.sign(&good);
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut evil = good.clone();
            evil["sub"] = json!("admin");
            parts[1] = b64(&evil);
            parts.join(".")
        }),
        ("not a JWT", "garbage".into()),
    ];
    let statements = app.statements();
    for (name, token) in cases {
        assert_eq!(
            me_code(&app, &token).await.as_deref(),
            Some("UNAUTHENTICATED"),
            "{name}"
        );
    }
    assert_eq!(app.statements(), statements, "refused tokens reach no SQL");
    // The reason is logged, never returned.
    let body = app.graphql_as("garbage", "{ me { audience } }").await;
    assert_eq!(body["errors"][0]["message"], "authentication required");
}

#[tokio::test]
async fn expiry_within_the_leeway_is_tolerated() {
    let key = TestKey::es256("ec-1");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, HOUR, HOUR).await; // leeway 30 s by default
    let mut claims = Token::portal("late").claims(&idp);
    claims["exp"] = json!(now() - 10);
    assert_eq!(me_code(&app, &key.sign(&claims)).await, None);
}

#[tokio::test]
async fn unsupported_authorization_schemes_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({ "query": "{ me { audience } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // Public fields still answer for anonymous callers.
    assert_eq!(
        app.graphql("{ apiVersion }").await["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test]
async fn rotated_keys_are_accepted_after_one_refetch() {
    let (old, new) = (TestKey::es256("2026-old"), TestKey::es256("2026-new"));
    let idp = FakeIssuer::start(vec![old.clone()]).await;
    let cooldown = Duration::from_millis(200);
    let app = app_trusting(&idp, cooldown, HOUR).await;
    assert_eq!(
        me_code(&app, &Token::portal("a").sign_oidc(&idp, &old)).await,
        None
    );
    assert_eq!(idp.jwks_fetches(), 1);
    idp.publish(vec![new.clone()]);
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
    assert_eq!(
        me_code(&app, &Token::portal("a").sign_oidc(&idp, &new)).await,
        None
    );
    assert_eq!(idp.jwks_fetches(), 2, "exactly one refetch");
    // The retired key no longer verifies (the key set was replaced), without another fetch.
    assert_eq!(
        me_code(&app, &Token::portal("a").sign_oidc(&idp, &old))
            .await
            .as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(idp.jwks_fetches(), 2, "within the cooldown no fetch");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown() {
    let key = TestKey::es256("real");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, Duration::from_secs(60), HOUR).await;
    let claims = Token::portal("flood").claims(&idp);
    let tokens: Vec<String> = (0..1000)
        .map(|_| key.sign_as(&uuid::Uuid::new_v4().to_string(), &claims))
        .collect();
    let codes: Vec<Option<String>> = futures_util::stream::iter(tokens.iter())
        .map(|t| me_code(&app, t))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        codes
            .iter()
            .all(|c| c.as_deref() == Some("UNAUTHENTICATED"))
    );
    assert!(
        idp.jwks_fetches() <= 1,
        "{} JWKS fetches for 1,000 unknown kids",
        idp.jwks_fetches()
    );
    // The real key still works from the cache.
    assert_eq!(me_code(&app, &key.sign(&claims)).await, None);
    assert!(idp.jwks_fetches() <= 1);
}

#[tokio::test]
async fn cached_keys_verify_while_the_jwks_endpoint_is_down_or_hangs() {
    let key = TestKey::es256("k");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    // max age zero: every use finds the cache stale and triggers a background refresh.
    let app = app_trusting(&idp, Duration::ZERO, Duration::ZERO).await;
    let token = Token::portal("steady").sign_oidc(&idp, &key);
    assert_eq!(me_code(&app, &token).await, None);

    idp.set_mode(Mode::Down);
    assert_eq!(
        me_code(&app, &token).await,
        None,
        "503 from JWKS does not matter"
    );

    idp.set_mode(Mode::Hang);
    // Let a background refresh start and hang.
    assert_eq!(me_code(&app, &token).await, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while idp.in_flight() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh reached the fake"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // While that fetch hangs, the cached key still verifies: the request does not wait.
    assert_eq!(me_code(&app, &token).await, None);
    assert!(
        idp.in_flight() > 0,
        "the refresh was still hanging when the request was answered"
    );
}

#[tokio::test]
async fn concurrent_first_requests_wait_for_the_first_key_fetch() {
    let key = TestKey::es256("k");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, HOUR, HOUR).await;
    let token = Token::portal("crowd").sign_oidc(&idp, &key);
    // Nothing is cached yet: every request needs the key the first one is fetching.
    let codes = futures_util::future::join_all((0..50).map(|_| me_code(&app, &token))).await;
    assert!(codes.iter().all(Option::is_none), "{codes:?}");
    assert_eq!(idp.jwks_fetches(), 1);
}

/// Impersonation (issue 23): an `act` claim is only honoured on a token signed by this
/// server's impersonation key; from a trusted identity provider it is refused.
#[tokio::test]
async fn a_trusted_issuers_token_with_an_act_claim_is_refused() {
    let key = TestKey::es256("k");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let app = app_trusting(&idp, HOUR, HOUR).await;
    let claims = Token::portal("victim").claims(&idp);
    assert_eq!(me_code(&app, &key.sign(&claims)).await, None, "without act");
    for extra in [
        json!({ "act": { "sub": "root" } }),
        json!({ "sid": uuid::Uuid::new_v4().to_string() }),
        json!({ "act": { "sub": "root" }, "sid": uuid::Uuid::new_v4().to_string() }),
    ] {
        let mut forged = claims.clone();
        for (k, v) in extra.as_object().unwrap() {
            forged[k] = v.clone();
        }
        assert_eq!(
            me_code(&app, &key.sign(&forged)).await.as_deref(),
            Some("UNAUTHENTICATED"),
            "{extra}"
        );
    }
}

/// A token that claims to be an impersonation token but is signed by any other key (with
/// our real `kid`, with an invented one, or with the payload edited under our signature)
/// is refused; the real one works.
#[tokio::test]
async fn a_forged_impersonation_token_signed_by_another_key_is_refused() {
    use crate::support::{Role, World};
    let w = World::new()
        .tenant("acme")
        .member("bob", "acme", Role::Admin)
        .operator("root")
        .spawn()
        .await;
    let started = w
        .query_with(
            "root",
            r#"mutation($input: StartImpersonationInput!) {
                 startImpersonation(input: $input) { token } }"#,
            json!({ "input": {
                "user": URL_SAFE_NO_PAD.encode(format!("User:{}", w.id("bob"))),
                "reason": "forgery test" } }),
        )
        .await;
    let real = started["data"]["startImpersonation"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    assert_eq!(me_code(&w, &real).await, None, "the real token works");
    let part = |i: usize| -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(real.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let (header, claims) = (part(0), part(1));
    let real_kid = header["kid"].as_str().unwrap().to_owned();
    let other = TestKey::es256("other");
    let forged_with_our_kid = other.sign_with(|h| h.kid = Some(real_kid.clone()), &claims);
    let invented_kid = format!("imp-{}", uuid::Uuid::new_v4().simple());
    let forged_with_new_kid = other.sign_with(|h| h.kid = Some(invented_kid), &claims);
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(real_kid.clone());
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(b"guess")).unwrap()
    };
    let mut edited = claims.clone();
    edited["sub"] = json!("root");
    let mut pieces: Vec<String> = real.split('.').map(str::to_owned).collect();
    pieces[1] = URL_SAFE_NO_PAD.encode(edited.to_string());
    let edited_under_our_signature = pieces.join(".");
    for (what, token) in [
        ("our kid, another key", forged_with_our_kid),
        ("an invented kid", forged_with_new_kid),
        ("HS256", hs256),
        ("payload edited", edited_under_our_signature),
    ] {
        assert_eq!(
            me_code(&w, &token).await.as_deref(),
            Some("UNAUTHENTICATED"),
            "{what}"
        );
    }
    // The development issuer may not issue `act` tokens either: its own token of bob is
    // plain (no banner), and the same claims with `act` from a foreign issuer were refused
    // above.
    let plain = w.query("bob", "{ me { impersonation { reason } } }").await;
    assert_eq!(plain["data"]["me"]["impersonation"], Value::Null, "{plain}");
}
