//! The development issuer's discovery document (404 when real issuers are used) and this
//! server's JWKS: the development key, when there is one, and the impersonation keys not
//! yet retired.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(State(app): State<AppState>) -> Response {
    match &app.dev_issuer {
        Some(dev) => Json(dev.discovery()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /.well-known/dev-jwks.json`: the development key alone (the discovery document's
/// `jwks_uri`, so verifying a development token never reads the database).
pub async fn dev_jwks(State(app): State<AppState>) -> Response {
    match &app.dev_issuer {
        Some(dev) => Json(dev.jwks()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(app): State<AppState>) -> Response {
    let mut keys = match &app.dev_issuer {
        Some(dev) => dev.jwks()["keys"].as_array().cloned().unwrap_or_default(),
        None => Vec::new(),
    };
    match app.impersonation.public_keys().await {
        Ok(public) => keys.extend(public),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the impersonation keys");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    Json(serde_json::json!({ "keys": keys })).into_response()
}
