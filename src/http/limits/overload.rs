//! Overload answers: a request is refused at once (503, `Retry-After`) when too many already
//! wait for a pooled connection (load shedding, before the pool); a request whose every
//! operation failed with `SERVICE_UNAVAILABLE` (pool wait over, database gone) is a 503 with
//! `Retry-After`; a request past `REQUEST_TIMEOUT_MS` is stopped and answered 503.

use std::future::Future;
use std::time::Duration;

use async_graphql::{BatchResponse, Response, Value};
use axum::http::{HeaderValue, StatusCode, header};

use crate::db::DbPool;
use crate::error::ErrorCode;
use crate::http::reply;

/// Seconds a client is told to wait after an overload answer.
pub const RETRY_AFTER_SECS: u64 = 1;

/// `Some(503)` when `max_waiting` requests or more already wait for a connection of `pool`.
pub fn shed(pool: &DbPool, max_waiting: usize) -> Option<axum::response::Response> {
    let waiting = pool.status().waiting;
    if waiting < max_waiting {
        return None;
    }
    tracing::warn!(
        waiting,
        "shedding a request: too many wait for a database connection"
    );
    let mut reply = reply::error(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServiceUnavailable,
        ErrorCode::ServiceUnavailable.public_message(),
    );
    set_retry_after(&mut reply, RETRY_AFTER_SECS);
    Some(reply)
}

/// Runs `work` for at most `limit`; past it the work is dropped (its statements are cancelled
/// by [`crate::db::inflight::track`]) and the answer is a 503.
pub async fn within<F: Future<Output = axum::response::Response>>(
    limit: Duration,
    work: F,
) -> axum::response::Response {
    match tokio::time::timeout(limit, crate::db::inflight::track(work)).await {
        Ok(reply) => reply,
        Err(_) => {
            tracing::warn!(
                limit_ms = limit.as_millis() as u64,
                "request stopped at REQUEST_TIMEOUT_MS"
            );
            reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                &format!(
                    "The request ran longer than {} ms and was stopped",
                    limit.as_millis()
                ),
            )
        }
    }
}

fn unavailable_secs(response: &Response) -> Option<u64> {
    let nothing = match &response.data {
        Value::Null => true,
        Value::Object(fields) => fields.values().all(|v| *v == Value::Null),
        _ => false,
    };
    if !nothing || response.errors.is_empty() {
        return None;
    }
    response
        .errors
        .iter()
        .map(|e| {
            let ext = e.extensions.as_ref()?;
            match ext.get("code") {
                Some(Value::String(code)) if code == ErrorCode::ServiceUnavailable.as_str() => {
                    match ext.get("retryAfterSeconds") {
                        Some(Value::Number(secs)) => secs.as_u64(),
                        _ => Some(RETRY_AFTER_SECS),
                    }
                }
                _ => None,
            }
        })
        .try_fold(0u64, |max, secs| secs.map(|s| max.max(s)))
}

/// When every operation of the response failed as unavailable and returned nothing: the
/// `Retry-After` to send with a 503.
pub fn unavailable(response: &BatchResponse) -> Option<u64> {
    match response {
        BatchResponse::Single(r) => unavailable_secs(r),
        BatchResponse::Batch(rs) => rs
            .iter()
            .map(unavailable_secs)
            .try_fold(0u64, |max, secs| secs.map(|s| max.max(s))),
    }
}

/// Turns `reply` into a 503 with `Retry-After` when the whole request was unavailable.
pub fn mark(response: &BatchResponse, reply: &mut axum::response::Response) {
    if let Some(secs) = unavailable(response) {
        *reply.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        set_retry_after(reply, secs);
    }
}

fn set_retry_after(reply: &mut axum::response::Response, secs: u64) {
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        reply.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str) -> async_graphql::ServerError {
        let mut e = async_graphql::ServerError::new("x", None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        e.extensions = Some(ext);
        e
    }

    #[test]
    fn only_a_request_that_returned_nothing_but_unavailable_is_a_503() {
        let all = || {
            let mut r = Response::new(Value::Null);
            r.errors = vec![error("SERVICE_UNAVAILABLE")];
            r
        };
        assert_eq!(unavailable(&BatchResponse::Single(all())), Some(1));
        let mut nulls = Response::new(async_graphql::value!({ "a": null, "b": null }));
        nulls.errors = vec![error("SERVICE_UNAVAILABLE"), error("SERVICE_UNAVAILABLE")];
        assert_eq!(unavailable(&BatchResponse::Single(nulls)), Some(1));
        let mut partial = Response::new(async_graphql::value!({ "a": 1, "b": null }));
        partial.errors = vec![error("SERVICE_UNAVAILABLE")];
        assert_eq!(unavailable(&BatchResponse::Single(partial)), None);
        let mut other = Response::new(Value::Null);
        other.errors = vec![error("SERVICE_UNAVAILABLE"), error("FORBIDDEN")];
        assert_eq!(unavailable(&BatchResponse::Single(other)), None);
        let ok = Response::new(async_graphql::value!({ "a": 1 }));
        assert_eq!(
            unavailable(&BatchResponse::Batch(vec![all(), ok])),
            None,
            "one operation of the batch was served"
        );
    }
}
