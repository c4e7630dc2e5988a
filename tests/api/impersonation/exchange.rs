//! `POST /oauth/token` (RFC 8693): refusals with the RFC error codes, and a valid exchange.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ME, code, jwt_part, user_id, world};
use crate::support::World;
use crate::support::tables::count;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const USER_TYPE: &str = "urn:dezky:params:oauth:token-type:user-id";
const WORKSPACE_TYPE: &str = "urn:dezky:params:oauth:token-type:workspace";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A token request's parameters.
type Form = Vec<(String, String)>;

/// A valid request for root to act as bob; tests remove or change parameters.
fn form(w: &World, actor: &str) -> Vec<(String, String)> {
    [
        ("grant_type", EXCHANGE.to_owned()),
        ("subject_token", w.id("bob").to_string()),
        ("subject_token_type", USER_TYPE.to_owned()),
        ("actor_token", actor.to_owned()),
        ("actor_token_type", ACCESS.to_owned()),
        ("reason", "ticket 42".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn with(mut form: Vec<(String, String)>, name: &str, value: Option<&str>) -> Vec<(String, String)> {
    form.retain(|(k, _)| k != name);
    if let Some(value) = value {
        form.push((name.to_owned(), value.to_owned()));
    }
    form
}

async fn post(
    w: &World,
    form: &[(String, String)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = w
        .client
        .post(w.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

async fn sessions(w: &World) -> i64 {
    count(&mut w.db.connect().await, "impersonation_sessions").await
}

#[tokio::test]
async fn refusals_carry_the_rfc_error_codes_and_start_nothing() {
    let w = world().await;
    let root = w.token("root");
    let bob_portal = w.token("olive");
    let carl_operator = w.who("carl").via_operator().sign(&w);
    let cases: Vec<(&str, Form, StatusCode, &str)> = vec![
        (
            "a portal token as actor",
            form(&w, &bob_portal),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            "an operator token of a non-admin",
            form(&w, &carl_operator),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            "a missing reason",
            with(form(&w, &root), "reason", None),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a blank reason",
            with(form(&w, &root), "reason", Some("   ")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a lifetime over the maximum",
            with(form(&w, &root), "expires_in", Some("1801")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a lifetime that is not a number",
            with(form(&w, &root), "expires_in", Some("soon")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an unknown subject",
            with(
                form(&w, &root),
                "subject_token",
                Some(&uuid::Uuid::new_v4().to_string()),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an unknown workspace",
            with(
                with(form(&w, &root), "subject_token", Some("nope")),
                "subject_token_type",
                Some(WORKSPACE_TYPE),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an operator as subject",
            with(
                form(&w, &root),
                "subject_token",
                Some(&w.id("root").to_string()),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            "another grant type",
            with(form(&w, &root), "grant_type", Some("client_credentials")),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            "no subject token",
            with(form(&w, &root), "subject_token", None),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an unknown subject token type",
            with(form(&w, &root), "subject_token_type", Some(ACCESS)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "no actor token",
            with(form(&w, &root), "actor_token", None),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "an actor token that does not verify",
            form(&w, "not.a.token"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "another audience",
            with(form(&w, &root), "audience", Some("dezky-operator")),
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
    ];
    for (what, form, status, error) in cases {
        let (got, headers, body) = post(&w, &form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{what}: {body}"
        );
        assert!(body["error_description"].is_string(), "{what}: {body}");
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert!(body.get("access_token").is_none(), "{what}");
    }
    // A repeated parameter, a JSON body, and client authentication.
    let mut repeated = form(&w, &root);
    repeated.push(("reason".into(), "again".into()));
    assert_eq!(post(&w, &repeated).await.2["error"], "invalid_request");
    let json_body = w
        .client
        .post(w.url("/oauth/token"))
        .json(&json!({ "grant_type": EXCHANGE }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let client_auth = w
        .client
        .post(w.url("/oauth/token"))
        .header("authorization", "Basic Y2xpZW50OnNlY3JldA==")
        .form(&form(&w, &root))
        .send()
        .await
        .unwrap();
    assert_eq!(client_auth.status(), StatusCode::UNAUTHORIZED);
    assert!(client_auth.headers().contains_key("www-authenticate"));
    assert_eq!(
        client_auth.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    assert_eq!(sessions(&w).await, 0, "no refusal starts a session");
    let mut conn = w.db.connect().await;
    // Refusals of a signed-in actor are audited (the non-admins as denied, bad input as
    // failure); an actor token that does not verify is not.
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'impersonation.start' AND outcome = 'denied'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'impersonation.start' AND outcome = 'success'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_valid_exchange_gives_a_portal_token_whose_claims_carry_act() {
    let w = world().await;
    let root = w.token("root");
    let (status, headers, body) = post(&w, &with(form(&w, &root), "expires_in", Some("600"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["issued_token_type"], ACCESS);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    let token = body["access_token"].as_str().unwrap();
    let claims = jwt_part(token, 1);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["act"], json!({ "sub": "root" }));
    assert_eq!(claims["aud"], "dezky-portal");
    assert_eq!(claims["iss"], "urn:dezky:platform-api:impersonation");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(claims.get("email").is_none() && claims.get("groups").is_none());
    // Signed by a key the JWKS serves (public only).
    let kid = jwt_part(token, 0)["kid"].as_str().unwrap().to_owned();
    let jwks: Value = w
        .client
        .get(w.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid served");
    assert!(key.get("d").is_none(), "{key}");
    // The token is bob, with the banner; the session and its audit row keep the reason.
    let me = w.graphql_as(token, ME).await;
    assert_eq!(me["data"]["me"]["user"]["email"], "bob@example.com", "{me}");
    assert_eq!(me["data"]["me"]["audience"], "PORTAL");
    assert_eq!(me["data"]["me"]["operator"], false);
    let banner = &me["data"]["me"]["impersonation"];
    assert_eq!(banner["operator"]["email"], "root@example.com");
    assert_eq!(banner["reason"], "ticket 42");
    let mut conn = w.db.connect().await;
    assert_eq!(sessions(&w).await, 1);
    assert_eq!(
        count(
            &mut conn,
            "impersonation_sessions WHERE reason = 'ticket 42' AND ended_at IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&mut conn, "audit_events WHERE action = 'impersonation.start' AND outcome = 'success' \
                          AND actor_email = 'root@example.com' AND details->>'reason' = 'ticket 42' \
                          AND NOT details::text LIKE '%eyJ%'").await,
        1
    );
    // No key material and no token in any table.
    assert_eq!(
        count(&mut conn, "impersonation_keys WHERE public_jwk ? 'd'").await,
        0
    );
    let signature = token.rsplit('.').next().unwrap();
    assert_eq!(
        count(
            &mut conn,
            &format!("audit_events WHERE details::text LIKE '%{signature}%'")
        )
        .await,
        0
    );
    // A portal token is not an operator's: an ordinary token of bob shows no banner.
    let plain = w.query("bob", ME).await;
    assert_eq!(plain["data"]["me"]["impersonation"], Value::Null, "{plain}");
    assert_eq!(code(&plain), None);
}

#[tokio::test]
async fn the_workspace_form_acts_as_the_first_owner_and_the_user_form_takes_a_global_id() {
    let w = world().await;
    let root = w.token("root");
    let workspace = with(
        with(form(&w, &root), "subject_token", Some("acme")),
        "subject_token_type",
        Some(WORKSPACE_TYPE),
    );
    let (status, _, body) = post(&w, &workspace).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        jwt_part(body["access_token"].as_str().unwrap(), 1)["sub"],
        "olive"
    );
    let global = with(form(&w, &root), "subject_token", Some(&user_id(&w, "carl")));
    let (status, _, body) = post(&w, &global).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        jwt_part(body["access_token"].as_str().unwrap(), 1)["sub"],
        "carl"
    );
    // The default lifetime is IMPERSONATION_MAX_TTL (30 minutes).
    assert_eq!(body["expires_in"], 1800);
}
