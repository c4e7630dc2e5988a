//! The failures every upstream shares: transport trouble and the status codes that mean
//! "not now" or "not with these credentials". Each upstream's own error type wraps this one.

use std::time::Duration;

/// A call that failed below the level of the upstream's own API.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No complete answer within the request timeout (never retried: it may have executed).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No connection could be made; nothing reached the upstream.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection broke before a complete answer arrived.
    #[error("connection failed: {0}")]
    Connection(String),
    /// A 5xx answer, still failing after the retries allowed for this call.
    #[error("answered HTTP {status}")]
    Unavailable {
        /// The last status received.
        status: u16,
    },
    /// HTTP 429, still failing after the retries allowed for this call.
    #[error("rate limited")]
    RateLimited {
        /// The upstream's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The upstream refused our credentials (401, or Authentik's 403 for a bad token).
    #[error("credentials refused (HTTP {status})")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// An answer this client does not know how to read (unexpected status or shape).
    #[error("unexpected answer (HTTP {status}): {detail}")]
    Unexpected {
        /// The status received.
        status: u16,
        /// What was wrong, without the body.
        detail: String,
    },
}

impl CallError {
    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// A decoding failure of a successful answer.
    pub fn decode(status: u16, err: impl std::fmt::Display) -> Self {
        Self::Unexpected {
            status,
            detail: format!("cannot decode the body: {err}"),
        }
    }
}

/// Converts an upstream error into the application's error: anything an upstream does that
/// the caller cannot fix becomes `UPSTREAM_UNAVAILABLE` for the named service.
pub(crate) fn unavailable(service: &'static str, err: impl Into<anyhow::Error>) -> crate::AppError {
    crate::AppError::UpstreamUnavailable {
        service,
        cause: err.into(),
    }
}
