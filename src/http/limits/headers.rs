//! Headers that must appear at most once.
//!
//! With two `Authorization` headers, proxies and servers disagree about which one counts
//! (the first, the last, or both joined); the request is refused instead of guessing.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ErrorCode;
use crate::http::reply;

/// Refuses a request that carries more than one `Authorization` header (400).
pub async fn single_authorization(request: Request, next: Next) -> Response {
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .count()
        > 1
    {
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "Send at most one `Authorization` header",
        );
    }
    next.run(request).await
}
