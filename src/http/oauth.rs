//! `POST /oauth/token`: OAuth 2.0 Token Exchange (RFC 8693) for impersonation.
//!
//! The request is form-encoded (RFC 6749 §3.2): `grant_type` =
//! `urn:ietf:params:oauth:grant-type:token-exchange`; `subject_token` names whom to
//! impersonate, typed by `subject_token_type` ([`USER_ID_TYPE`]: a user id, or
//! [`WORKSPACE_TYPE`]: a tenant slug, meaning its first active owner); `actor_token` is the
//! operator's own access token (`actor_token_type` = access_token or jwt); `reason`
//! (required) and `expires_in` (seconds, at most `IMPERSONATION_MAX_TTL`) are this server's
//! extensions; `tenant` optionally names the workspace of a user-form session;
//! `requested_token_type` and `audience`, when sent, must ask for a portal access token.
//!
//! Errors follow RFC 6749 §5.2 and RFC 8693 §2.2.2: a JSON `{"error", "error_description"}`,
//! `400` (`invalid_request` for a missing, repeated or invalid parameter and for a subject or
//! actor token that is invalid for any reason; `unsupported_grant_type`;
//! `unauthorized_client` when the actor is not an operator — operator audience **and**
//! `platform_admin`; `invalid_grant` when the subject may not be impersonated;
//! `invalid_target` for another audience or a resource), and `401 invalid_client` when the
//! client tries to authenticate with an `Authorization` header (this endpoint does no client
//! authentication: the operator's token is the `actor_token`). Every answer carries
//! `Cache-Control: no-store`. Attempts with a valid actor token are audited as
//! `impersonation.start` by the same code as the `startImpersonation` mutation.

use std::collections::HashMap;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::auth::impersonation::ACCESS_TOKEN_TYPE;
use crate::domain::audit::Actor;
use crate::domain::audit::change::Caller;
use crate::domain::ids::UserId;
use crate::domain::impersonation::start::{self, Fields, Settings, StartRequest, Subject};
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::http::limits;
use crate::request_id::RequestId;

/// The grant type of RFC 8693.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `subject_token_type` of a user id (`users.id`, or its global `User` id).
pub const USER_ID_TYPE: &str = "urn:dezky:params:oauth:token-type:user-id";
/// `subject_token_type` of a workspace (a tenant slug): its first active owner.
pub const WORKSPACE_TYPE: &str = "urn:dezky:params:oauth:token-type:workspace";
/// The JWT token type (accepted for the actor token and as the requested type).
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Largest request body read.
const MAX_BODY_BYTES: usize = 16 * 1024;

const FIELDS: Fields = Fields {
    subject: "subject_token",
    tenant: "tenant",
    reason: "reason",
    ttl: "expires_in",
};

/// An RFC 6749 §5.2 error.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn bad(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"platform-api\", error=\"invalid_client\""),
            );
        }
        no_store(response)
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `POST /oauth/token`.
pub async fn token(State(app): State<AppState>, request: Request) -> Response {
    match exchange(&app, request).await {
        Ok(response) => no_store(response),
        Err(error) => error.into_response(),
    }
}

async fn exchange(app: &AppState, request: Request<Body>) -> Result<Response, OAuthError> {
    let (parts, body) = request.into_parts();
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "this endpoint does no client authentication; send the operator's \
                          access token as actor_token"
                .into(),
        });
    }
    let form_encoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(bad(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| bad("invalid_request", "the body is too large or unreadable"))?;
    let params = parse_form(&bytes)?;
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let required = |name: &'static str| {
        get(name).ok_or_else(|| bad("invalid_request", format!("{name} is required")))
    };
    match required("grant_type")? {
        TOKEN_EXCHANGE => {}
        other => {
            return Err(bad(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use {TOKEN_EXCHANGE}"),
            ));
        }
    }
    let subject = match (required("subject_token_type")?, required("subject_token")?) {
        (USER_ID_TYPE, raw) => Subject::User(parse_user_id(raw)?),
        (WORKSPACE_TYPE, slug) => Subject::Workspace(slug.to_owned()),
        (other, _) => {
            return Err(bad(
                "invalid_request",
                format!(
                    "subject_token_type {other:?} is not supported; use {USER_ID_TYPE} or {WORKSPACE_TYPE}"
                ),
            ));
        }
    };
    let actor_token = required("actor_token")?;
    if !matches!(required("actor_token_type")?, ACCESS_TOKEN_TYPE | JWT_TYPE) {
        return Err(bad(
            "invalid_request",
            "actor_token_type must be an access token or a JWT",
        ));
    }
    if let Some(requested) = get("requested_token_type")
        && !matches!(requested, ACCESS_TOKEN_TYPE | JWT_TYPE)
    {
        return Err(bad(
            "invalid_request",
            format!(
                "requested_token_type {requested:?} cannot be issued; only {ACCESS_TOKEN_TYPE}"
            ),
        ));
    }
    if get("resource").is_some() {
        return Err(bad("invalid_target", "resource is not supported"));
    }
    if let Some(audience) = get("audience")
        && audience != app.config.auth.portal_audience
    {
        return Err(bad(
            "invalid_target",
            format!(
                "tokens are only issued for {:?}",
                app.config.auth.portal_audience
            ),
        ));
    }
    let ttl_secs = match get("expires_in") {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            bad(
                "invalid_request",
                "expires_in must be a whole number of seconds",
            )
        })?),
    };
    let verified = app.auth.verifier.verify(actor_token).await.map_err(|e| {
        tracing::info!(reason = %e, "token exchange: actor token refused");
        bad("invalid_request", "the actor_token is not valid")
    })?;
    let viewer = {
        let mut conn = app.pool.get().await.map_err(|e| server_error(e.into()))?;
        crate::domain::users::load_viewer(&mut conn, &verified)
            .await
            .map_err(|e| match e {
                AppError::Unauthenticated => bad("invalid_request", "the actor_token is not valid"),
                other => server_error(other),
            })?
    };
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let ip = limits::client_ip::of_request(&parts, &app.config.limits.trusted_proxies)
        .map(|ip| ip.to_string());
    let caller = Caller {
        pool: app.pool.clone(),
        actor: Actor::of(Some(&viewer), Some(request_id.to_string()), ip),
        viewer: Some(std::sync::Arc::new(viewer)),
        metrics: Some(app.metrics.clone()),
    };
    let settings = Settings {
        max_ttl: app.config.auth.impersonation_max_ttl,
        portal_audience: app.config.auth.portal_audience.clone(),
        signer: app.impersonation.signer().await.map_err(server_error)?,
    };
    let request = StartRequest {
        subject,
        tenant: get("tenant").map(str::to_owned),
        reason: get("reason").unwrap_or_default().to_owned(),
        ttl_secs,
    };
    let started = start::start(&caller, &settings, request, FIELDS)
        .await
        .map_err(refusal)?;
    Ok(axum::Json(json!({
        "access_token": started.token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": started.expires_in,
    }))
    .into_response())
}

/// The form's parameters; a repeated one is `invalid_request` (RFC 6749 §3.2).
fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| bad("invalid_request", "the body is not a valid form"))?;
    let mut params = HashMap::new();
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(bad("invalid_request", format!("{name} is repeated")));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// A `users.id` or a global `User` id.
fn parse_user_id(raw: &str) -> Result<UserId, OAuthError> {
    if let Ok(id) = uuid::Uuid::parse_str(raw) {
        return Ok(UserId(id));
    }
    match GlobalId::decode(raw, "subject_token") {
        Ok(global) if global.ty == NodeType::User => Ok(UserId(global.uuid())),
        _ => Err(bad("invalid_request", "subject_token is not a user id")),
    }
}

/// The OAuth error of a refused start.
fn refusal(error: AppError) -> OAuthError {
    match error {
        AppError::Forbidden(_) | AppError::Unauthenticated => bad(
            "unauthorized_client",
            "the actor must be an operator: an operator token of a platform admin",
        ),
        AppError::NotFound { what } => {
            bad("invalid_request", format!("subject_token names no {what}"))
        }
        AppError::BadUserInput { field, message } if field == FIELDS.subject => {
            bad("invalid_grant", message)
        }
        AppError::BadUserInput { field, message } => {
            bad("invalid_request", format!("{field}: {message}"))
        }
        other => server_error(other),
    }
}

fn server_error(error: AppError) -> OAuthError {
    tracing::error!(error = %error, "token exchange failed");
    OAuthError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: "internal error".into(),
    }
}
