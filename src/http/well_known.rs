//! The development issuer's discovery document and JWKS (404 when real issuers are used).

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

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(app): State<AppState>) -> Response {
    match &app.dev_issuer {
        Some(dev) => Json(dev.jwks()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
