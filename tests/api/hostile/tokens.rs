//! Finding 7: a JWS `crit` header naming an extension is refused (RFC 7515 §4.1.11: the
//! server understands none), and a request with two `Authorization` headers is refused
//! instead of letting the first one win.

use std::time::Duration;

use serde_json::Value;

use crate::support::oidc::{FakeIssuer, TestKey};
use crate::support::{TestApp, Token, World};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_crit_header_is_refused() {
    let key = TestKey::es256("ec-1");
    let idp = FakeIssuer::start(vec![key.clone()]).await;
    let iss = idp.issuer();
    let app = TestApp::spawn_with(move |c| {
        c.auth.issuers = vec![iss];
        c.auth.jwks_max_age = HOUR;
    })
    .await;
    let claims = Token::portal("mallory").claims(&idp);
    let me = "{ me { user { email } } }";
    let plain = key.sign(&claims);
    let body = app.graphql_as(&plain, me).await;
    assert!(
        body["data"]["me"]["user"].is_object(),
        "the baseline is fine: {body}"
    );
    for crit in [vec!["exp-ext".to_owned()], vec!["b64".to_owned()]] {
        let token = key.sign_with(|h| h.crit = Some(crit.clone()), &claims);
        let body = app.graphql_as(&token, me).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "crit {crit:?}: {body}"
        );
        assert!(body["data"].is_null(), "{body}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let w = World::new().operator("root").user("bob").spawn().await;
    let before = w.operations();
    let response = w
        .client
        .post(w.url("/graphql"))
        .header("authorization", format!("Bearer {}", w.token("bob")))
        .header("authorization", format!("Bearer {}", w.token("root")))
        .json(&serde_json::json!({ "query": "{ me { operator } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(w.operations(), before, "nothing executed");
    // Over GET too.
    let response = w
        .client
        .get(w.url("/graphql?query=%7BapiVersion%7D"))
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // One header is fine.
    let body = w.query("root", "{ me { operator } }").await;
    assert_eq!(body["data"]["me"]["operator"], true, "{body}");
}
