//! Assertions for mutations: allowed (one `success` audit row), denied (only a `denied` audit
//! row, nothing else changed) and invalid (`BAD_USER_INPUT` on the field, only a `failure` row).
//! Callers are named by subject; `root` gets an operator token, everyone else a portal one.

use std::time::Duration;

use platform_api::auth::dev_issuer::DevTokenRequest;
use serde_json::Value;

use super::app::first_error_code;
use super::{TestApp, seed};

pub fn token(app: &TestApp, who: &str) -> String {
    let aud = if who == "root" {
        "dezky-operator"
    } else {
        "dezky-portal"
    };
    let request = DevTokenRequest {
        sub: who.into(),
        aud: aud.into(),
        email: None,
        name: None,
        groups: None,
    };
    app.token_with(&request, Duration::from_secs(600))
}

pub async fn run(app: &TestApp, who: Option<&str>, mutation: &str) -> Value {
    match who {
        Some(who) => app.graphql_as(&token(app, who), mutation).await,
        None => app.graphql(mutation).await,
    }
}

pub async fn audit_rows(app: &TestApp, action: &str, outcome: &str) -> i64 {
    let mut conn = app.db.connect().await;
    seed::count(
        &mut conn,
        &format!("audit_events WHERE action = '{action}' AND outcome = '{outcome}'"),
    )
    .await
}

/// Asserts the call is refused with `code`, changes nothing, and leaves one audit row with
/// `outcome` — except without a token (`who: None`): then no audit row at all (anyone could
/// fill the log), and the anonymous-mutation counter moves instead.
pub async fn refused(
    app: &TestApp,
    who: Option<&str>,
    mutation: &str,
    action: &str,
    code: &str,
    outcome: &str,
) -> Value {
    let mut conn = app.db.connect().await;
    let before = seed::fingerprint(&mut conn).await;
    let audited = audit_rows(app, action, outcome).await;
    let all_audited = audit_rows_total(app).await;
    let anonymous = app.state.metrics.anonymous_mutations();
    let body = run(app, who, mutation).await;
    assert_eq!(first_error_code(&body), code, "{who:?}: {mutation}\n{body}");
    assert_eq!(
        seed::fingerprint(&mut conn).await,
        before,
        "nothing changed: {mutation}"
    );
    if who.is_some() {
        assert_eq!(
            audit_rows(app, action, outcome).await,
            audited + 1,
            "one {outcome} row for {action}"
        );
        assert_eq!(app.state.metrics.anonymous_mutations(), anonymous);
    } else {
        assert_eq!(
            audit_rows_total(app).await,
            all_audited,
            "an anonymous attempt writes no audit row: {action}"
        );
        assert_eq!(app.state.metrics.anonymous_mutations(), anonymous + 1);
    }
    body
}

/// Every audit row.
pub async fn audit_rows_total(app: &TestApp) -> i64 {
    let mut conn = app.db.connect().await;
    seed::count(&mut conn, "audit_events").await
}

pub async fn denied(app: &TestApp, who: Option<&str>, mutation: &str, action: &str, code: &str) {
    refused(app, who, mutation, action, code, "denied").await;
}

pub async fn invalid(app: &TestApp, who: &str, mutation: &str, action: &str, field: &str) {
    let body = refused(
        app,
        Some(who),
        mutation,
        action,
        "BAD_USER_INPUT",
        "failure",
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
}

pub async fn allowed(app: &TestApp, who: &str, mutation: &str, action: &str) -> Value {
    let before = audit_rows(app, action, "success").await;
    let body = run(app, Some(who), mutation).await;
    assert!(body.get("errors").is_none(), "{who}: {mutation}\n{body}");
    assert_eq!(
        audit_rows(app, action, "success").await,
        before + 1,
        "one success row for {action}"
    );
    body
}
