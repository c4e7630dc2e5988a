//! The last line of defence for error responses.
//!
//! Every error that leaves the server passes through [`finalize`]:
//! - parse and validation errors (including the depth and complexity limits) become
//!   `BAD_USER_INPUT`: the request was refused before anything ran;
//! - argument values that fail to parse become `BAD_USER_INPUT`;
//! - `INTERNAL` and `SERVICE_UNAVAILABLE` keep their generic message, gain
//!   `extensions.requestId`, and their full cause is logged with the same id;
//! - any other error without a code is a bug (something bypassed [`crate::AppError`]): it is
//!   masked and logged as `INTERNAL`, so no foreign error text reaches a client.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::error::{ApiError, ErrorCode};
use crate::request_id::RequestId;

/// Factory for the masking extension (installed on every schema).
pub struct ErrorMasking;

impl ExtensionFactory for ErrorMasking {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorMaskingExtension::default())
    }
}

/// One instance per request.
#[derive(Default)]
struct ErrorMaskingExtension {
    /// The request id, read from the request data in `prepare_request` (the `request` hook
    /// runs before request data is attached to the extension context).
    request_id: std::sync::OnceLock<RequestId>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorMaskingExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let request_id = self.request_id.get();
        response.errors = response
            .errors
            .into_iter()
            .map(|e| finalize(e, request_id))
            .collect();
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let id = request
            .data
            .get(&std::any::TypeId::of::<RequestId>())
            .and_then(|value| value.downcast_ref::<RequestId>());
        if let Some(id) = id {
            let _ = self.request_id.set(id.clone());
        }
        next.run(ctx, request).await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let request_id = ctx.data_opt::<RequestId>().cloned();
        next.run(ctx, stream)
            .map(move |mut response| {
                response.errors = response
                    .errors
                    .into_iter()
                    .map(|e| finalize(e, request_id.as_ref()))
                    .collect();
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(request_error)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(request_error).collect())
    }
}

/// Marks an error that refused the whole request before execution.
fn request_error(mut error: ServerError) -> ServerError {
    if code_of(&error).is_none() {
        set(&mut error, "code", ErrorCode::BadUserInput.as_str());
    }
    error
}

fn code_of(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

fn set(error: &mut ServerError, key: &str, value: impl Into<Value>) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set(key, value);
}

/// Errors async-graphql raises itself when an argument or variable value has the wrong shape.
fn is_input_value_error(message: &str) -> bool {
    message.starts_with("Failed to parse ")
        || message.starts_with("Invalid value for argument")
        || message.starts_with("Variable ")
}

/// Applies the masking rules to one error (see the module docs).
pub fn finalize(mut error: ServerError, request_id: Option<&RequestId>) -> ServerError {
    let request_id = request_id.map_or("unknown", RequestId::as_str);
    match code_of(&error).as_deref() {
        None if is_input_value_error(&error.message) => {
            set(&mut error, "code", ErrorCode::BadUserInput.as_str());
            error
        }
        None => {
            tracing::error!(
                request_id,
                error = %error.message,
                path = ?error.path,
                "unclassified error masked as INTERNAL"
            );
            error.message = ErrorCode::Internal.public_message().to_owned();
            error.source = None;
            set(&mut error, "code", ErrorCode::Internal.as_str());
            set(&mut error, "requestId", request_id);
            error
        }
        Some(code)
            if code == ErrorCode::Internal.as_str()
                || code == ErrorCode::ServiceUnavailable.as_str() =>
        {
            let cause = error
                .source::<ApiError>()
                .map_or_else(|| error.message.clone(), |s| format!("{:#}", s.0));
            if code == ErrorCode::Internal.as_str() {
                tracing::error!(request_id, error = %cause, path = ?error.path, "internal error");
            } else {
                tracing::warn!(request_id, error = %cause, path = ?error.path, "service unavailable");
            }
            set(&mut error, "requestId", request_id);
            error
        }
        Some(_) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppError;
    use async_graphql::Pos;

    fn server_error(err: AppError) -> ServerError {
        async_graphql::Error::from(ApiError::from(err)).into_server_error(Pos::default())
    }

    #[test]
    fn uncoded_errors_are_masked_as_internal() {
        let foreign = ServerError::new("connection to 10.1.2.3 refused", None);
        let out = finalize(foreign, Some(&RequestId::from_client("r-1").unwrap()));
        assert_eq!(out.message, "Internal server error");
        assert_eq!(code_of(&out).as_deref(), Some("INTERNAL"));
        let ext = out.extensions.unwrap();
        assert_eq!(ext.get("requestId"), Some(&Value::from("r-1")));
    }

    #[test]
    fn internal_errors_gain_the_request_id_and_keep_the_generic_message() {
        let out = finalize(
            server_error(AppError::internal(anyhow::anyhow!("secret cause"))),
            None,
        );
        assert_eq!(out.message, "Internal server error");
        assert_eq!(
            out.extensions.unwrap().get("requestId"),
            Some(&Value::from("unknown"))
        );
    }

    #[test]
    fn coded_errors_pass_unchanged() {
        let out = finalize(
            server_error(AppError::bad_input("first", "too large")),
            None,
        );
        assert_eq!(out.message, "too large");
        assert!(out.extensions.unwrap().get("requestId").is_none());
    }

    #[test]
    fn argument_shape_errors_are_bad_input() {
        let e = ServerError::new(r#"Failed to parse "Int": invalid"#, None);
        assert_eq!(
            code_of(&finalize(e, None)).as_deref(),
            Some("BAD_USER_INPUT")
        );
    }
}
