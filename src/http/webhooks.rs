//! `POST /webhooks/stripe`: Stripe's webhook. The raw body is verified against the endpoint's
//! signing secret(s) (`STRIPE_WEBHOOK_SECRET`, comma-separated while one is being rotated),
//! then stored once by event id with the job that applies it, so the answer is fast and a
//! replay is a no-op. 404 when no secret is configured; 400 on a bad signature, an old
//! timestamp or a body that is not an event; 503 when the database cannot take it (Stripe
//! retries).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::domain::billing::stripe_events::{self, StripeEvent};
use crate::error::ErrorCode;
use crate::http::reply;
use crate::upstream::Secret;
use crate::upstream::stripe::webhook::{self, DEFAULT_TOLERANCE, SIGNATURE_HEADER};

/// The endpoint's secrets: every comma-separated part of the configured value.
fn secrets(configured: &Secret) -> Vec<Secret> {
    configured
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Secret::new(s.to_owned()))
        .collect()
}

/// `POST /webhooks/stripe`.
pub async fn stripe(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(configured) = &app.upstreams.stripe_webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    let mut refusal = webhook::WebhookError::NoValidSignature;
    let verified = secrets(configured).iter().any(|secret| {
        match webhook::verify(&body, header, secret, now, DEFAULT_TOLERANCE) {
            Ok(()) => true,
            Err(e) => {
                refusal = e;
                false
            }
        }
    });
    if !verified {
        tracing::info!(reason = %refusal, "stripe webhook refused");
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            &refusal.to_string(),
        );
    }
    let (event, payload) = match (
        StripeEvent::parse(&body),
        serde_json::from_slice::<serde_json::Value>(&body),
    ) {
        (Ok(event), Ok(payload)) => (event, payload),
        (Err(reason), _) => {
            return reply::error(StatusCode::BAD_REQUEST, ErrorCode::BadUserInput, &reason);
        }
        (_, Err(e)) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &e.to_string(),
            );
        }
    };
    match stripe_events::receive(&app.pool, &event, payload, app.config.jobs.max_attempts).await {
        Ok(new) => {
            tracing::info!(event = %event.id, kind = %event.kind, new, "stripe webhook received");
            Json(serde_json::json!({ "received": true, "duplicate": !new })).into_response()
        }
        Err(error) => {
            tracing::error!(event = %event.id, error = %error, "stripe webhook could not be stored");
            reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "the event could not be stored; retry later",
            )
        }
    }
}
