//! The one error type of the application and its mapping to GraphQL error codes.
//!
//! Every error a client can see carries `extensions.code` from the fixed set in
//! [`ErrorCode`]. `INTERNAL` and `SERVICE_UNAVAILABLE` never show their cause: the response
//! carries a generic message and the request id, and the cause is logged with the same id
//! (see `graphql::errors`).

use std::sync::Arc;

use async_graphql::ErrorExtensions;

/// The stable codes of `extensions.code`. Clients switch on these; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No valid credentials were presented.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The object does not exist, or the caller may not know that it exists.
    NotFound,
    /// The request or one of its arguments is invalid (`extensions.field` names which).
    BadUserInput,
    /// The change conflicts with the current state (e.g. a slug already taken).
    Conflict,
    /// An upstream system (Authentik, Stalwart, oCIS, Stripe) could not be reached.
    UpstreamUnavailable,
    /// Too many requests; try again later.
    RateLimited,
    /// This service cannot answer right now (database down, connection pool exhausted).
    ServiceUnavailable,
    /// A bug or an unexpected failure; the message is masked and the cause logged.
    Internal,
}

impl ErrorCode {
    /// The wire form, as it appears in `extensions.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            Self::RateLimited => "RATE_LIMITED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// Whether the message must be replaced before it reaches a client.
    pub const fn is_masked(self) -> bool {
        matches!(self, Self::ServiceUnavailable | Self::Internal)
    }

    /// The message a client sees for a masked code.
    pub const fn public_message(self) -> &'static str {
        match self {
            Self::ServiceUnavailable => "The service is temporarily unavailable; try again shortly",
            _ => "Internal server error",
        }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Known caller, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or invisible to the caller (the two are indistinguishable on purpose).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `tenant`.
        what: &'static str,
    },
    /// Invalid input; nothing was written.
    #[error("{message}")]
    BadUserInput {
        /// The argument or input field at fault, as the client named it (e.g. `input.slug`).
        field: String,
        /// What is wrong, in words a user can act on.
        message: String,
    },
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// An upstream system failed or timed out.
    #[error("{service} is unavailable")]
    UpstreamUnavailable {
        /// Which upstream.
        service: &'static str,
        /// The cause, logged but not shown.
        #[source]
        cause: anyhow::Error,
    },
    /// Rate limited.
    #[error("too many requests")]
    RateLimited {
        /// Seconds after which a retry may succeed.
        retry_after_secs: Option<u64>,
    },
    /// The database or pool cannot serve (masked).
    #[error("service unavailable: {0:#}")]
    ServiceUnavailable(#[source] anyhow::Error),
    /// Anything else (masked).
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// A `BAD_USER_INPUT` error about one field.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An internal error from any cause.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The code this error is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::UpstreamUnavailable { .. } => ErrorCode::UpstreamUnavailable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::ServiceUnavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        let code = self.code();
        if code.is_masked() {
            code.public_message().to_owned()
        } else {
            self.to_string()
        }
    }
}

/// The error type GraphQL resolvers return: an [`AppError`] behind an `Arc`.
///
/// It exists because async-graphql converts every `Display` type into an error without a
/// code; this type is deliberately not `Display`, so `?` in a resolver always goes through
/// the coded conversion below.
#[derive(Debug, Clone)]
pub struct ApiError(pub Arc<AppError>);

/// What resolvers return.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(Arc::new(err))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        AppError::from(err).into()
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::from(err).into()
    }
}

/// The GraphQL form: public message, `extensions.code` (+ `field`), and the error itself as
/// the source so the masking extension can log the full cause with the request id.
impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let inner = &*err.0;
        let code = inner.code();
        let message = inner.public_message();
        let field = match inner {
            AppError::BadUserInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        let service = match inner {
            AppError::UpstreamUnavailable { service, .. } => Some(*service),
            _ => None,
        };
        let retry_after = match inner {
            AppError::RateLimited { retry_after_secs } => *retry_after_secs,
            AppError::ServiceUnavailable(_) => {
                Some(crate::http::limits::overload::RETRY_AFTER_SECS)
            }
            _ => None,
        };
        let base = async_graphql::Error {
            message,
            source: Some(Arc::new(err)),
            extensions: None,
        };
        base.extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(service) = service {
                ext.set("service", service);
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfterSeconds", secs);
            }
        })
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            // `UnableToSendCommand`: a transport failure with no SQLSTATE (diesel-async reports
            // a connection the server closed this way).
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::ServiceUnavailable(err.into()),
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if is_unavailable(info.message()) =>
            {
                Self::ServiceUnavailable(err.into())
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Server messages that mean the database cannot serve right now rather than a bug: the
/// backend was terminated (`57P01`, a restart or `pg_terminate_backend`), the server is
/// shutting down or starting (`57P03`), or the statement ran out of `statement_timeout`
/// (`57014`). diesel reports these as `Unknown` without the SQLSTATE, so the (English,
/// `lc_messages = C`) message is matched.
fn is_unavailable(message: &str) -> bool {
    [
        "terminating connection",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "canceling statement due to statement timeout",
    ]
    .iter()
    .any(|m| message.contains(m))
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::ServiceUnavailable(err.into())
    }
}

/// Convenience alias.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Value;

    fn ext(err: AppError) -> (String, async_graphql::ErrorExtensionValues) {
        let gql: async_graphql::Error = ApiError::from(err).into();
        (gql.message, gql.extensions.expect("extensions set"))
    }

    fn code_of(err: AppError) -> Value {
        ext(err).1.get("code").cloned().expect("code set")
    }

    #[test]
    fn every_variant_maps_to_its_code() {
        let cases: Vec<(AppError, &str)> = vec![
            (AppError::Unauthenticated, "UNAUTHENTICATED"),
            (AppError::Forbidden("no".into()), "FORBIDDEN"),
            (AppError::NotFound { what: "tenant" }, "NOT_FOUND"),
            (AppError::bad_input("input.slug", "bad"), "BAD_USER_INPUT"),
            (AppError::Conflict("taken".into()), "CONFLICT"),
            (
                AppError::UpstreamUnavailable {
                    service: "authentik",
                    cause: anyhow::anyhow!("x"),
                },
                "UPSTREAM_UNAVAILABLE",
            ),
            (
                AppError::RateLimited {
                    retry_after_secs: Some(3),
                },
                "RATE_LIMITED",
            ),
            (
                AppError::ServiceUnavailable(anyhow::anyhow!("pool")),
                "SERVICE_UNAVAILABLE",
            ),
            (AppError::Internal(anyhow::anyhow!("boom")), "INTERNAL"),
        ];
        for (err, code) in cases {
            assert_eq!(code_of(err), Value::from(code));
        }
    }

    #[test]
    fn bad_input_names_the_field() {
        let (message, ext) = ext(AppError::bad_input("input.slug", "slug must be lower-case"));
        assert_eq!(message, "slug must be lower-case");
        assert_eq!(ext.get("field"), Some(&Value::from("input.slug")));
    }

    #[test]
    fn masked_errors_do_not_show_their_cause() {
        let (message, _) = ext(AppError::internal(anyhow::anyhow!("password=hunter2")));
        assert_eq!(message, "Internal server error");
        let (message, _) = ext(AppError::ServiceUnavailable(anyhow::anyhow!(
            "pg at 10.0.0.1"
        )));
        assert!(!message.contains("10.0.0.1"), "{message}");
    }

    #[test]
    fn the_cause_travels_as_the_source() {
        let gql: async_graphql::Error =
            ApiError::from(AppError::internal(anyhow::anyhow!("disk full"))).into();
        let server = gql.into_server_error(async_graphql::Pos::default());
        let source = server.source::<ApiError>().expect("source kept");
        assert!(source.0.to_string().contains("disk full"));
    }

    #[test]
    fn upstream_and_rate_limit_details_are_public() {
        let (_, e) = ext(AppError::UpstreamUnavailable {
            service: "stripe",
            cause: anyhow::anyhow!("secret sk_live_x"),
        });
        assert_eq!(e.get("service"), Some(&Value::from("stripe")));
        let (msg, e) = ext(AppError::RateLimited {
            retry_after_secs: Some(7),
        });
        assert_eq!(msg, "too many requests");
        assert_eq!(e.get("retryAfterSeconds"), Some(&Value::from(7)));
    }

    #[test]
    fn database_errors_map_by_kind() {
        use diesel::result::{DatabaseErrorKind, Error};
        let closed = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new(String::from("gone")),
        );
        assert_eq!(AppError::from(closed).code(), ErrorCode::ServiceUnavailable);
        let unsendable = Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new(String::from("connection closed")),
        );
        assert_eq!(
            AppError::from(unsendable).code(),
            ErrorCode::ServiceUnavailable
        );
        for (message, code) in [
            (
                "terminating connection due to administrator command",
                ErrorCode::ServiceUnavailable,
            ),
            (
                "canceling statement due to statement timeout",
                ErrorCode::ServiceUnavailable,
            ),
            ("syntax error at or near \"x\"", ErrorCode::Internal),
        ] {
            let e = Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()));
            assert_eq!(AppError::from(e).code(), code, "{message}");
        }
        assert_eq!(AppError::from(Error::NotFound).code(), ErrorCode::Internal);
    }
}
