//! The last line of defence for error responses.
//!
//! Every error that leaves the server passes through [`finalize`]:
//! - parse and validation errors (including the depth and complexity limits) become
//!   `BAD_USER_INPUT`: the request was refused before anything ran;
//! - argument values that fail to parse become `BAD_USER_INPUT`, with `extensions.field`
//!   naming the argument path (`input.name`, `ids.0`), one error per invalid part;
//! - `INTERNAL` and `SERVICE_UNAVAILABLE` keep their generic message, gain
//!   `extensions.requestId`, and their full cause is logged with the same id;
//! - any other error without a code is a bug (something bypassed [`crate::AppError`]): it is
//!   masked and logged as `INTERNAL`, so no foreign error text reaches a client.
//!
//! The errors of a response are then put in document order (by location, then path), so a
//! response's bytes do not depend on which resolver finished first.

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
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let request_id = self.request_id.get();
        response.errors = response
            .errors
            .into_iter()
            .map(|e| finalize(e, request_id))
            .collect();
        in_document_order(&mut response.errors);
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
                in_document_order(&mut response.errors);
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
        name_the_field(&mut error);
    }
    error
}

/// Sorts errors by where they arose in the document, then by response path (list indexes
/// numerically), keeping the engine's order among equals.
pub fn in_document_order(errors: &mut [ServerError]) {
    use async_graphql::PathSegment;
    /// (line, column) of the first location, then the path with indexes before names.
    type Key<'e> = (Option<(usize, usize)>, Vec<(usize, &'e str)>);
    fn key(error: &ServerError) -> Key<'_> {
        let at = error.locations.first().map(|p| (p.line, p.column));
        let path = error
            .path
            .iter()
            .map(|s| match s {
                PathSegment::Index(i) => (*i, ""),
                PathSegment::Field(f) => (usize::MAX, f.as_str()),
            })
            .collect();
        (at, path)
    }
    errors.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// The argument path an input-value error is about: `input.name` from validation's
/// `Invalid value for argument "input.name", …`, or the argument the engine names in
/// `extensions.argument` when a value failed to parse during execution.
fn input_field(error: &ServerError) -> Option<String> {
    if let Some(rest) = error.message.strip_prefix("Invalid value for argument \"") {
        return rest.split('"').next().map(str::to_owned);
    }
    match error.extensions.as_ref()?.get("argument")? {
        Value::String(name) => Some(name.clone()),
        _ => None,
    }
}

/// Sets `extensions.field` on an input-value error (and drops the engine's `argument`).
fn name_the_field(error: &mut ServerError) {
    if let Some(field) = input_field(error) {
        set(error, "field", field);
    }
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.unset("argument");
    }
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
            name_the_field(&mut error);
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

    fn field_of(error: &ServerError) -> Option<&Value> {
        error.extensions.as_ref()?.get("field")
    }

    #[test]
    fn validation_errors_on_arguments_name_the_field() {
        let e = ServerError::new(
            r#"Invalid value for argument "input.status", enumeration type "TenantStatus" does not contain the value "BOGUS""#,
            None,
        );
        let out = request_error(e);
        assert_eq!(code_of(&out).as_deref(), Some("BAD_USER_INPUT"));
        assert_eq!(field_of(&out), Some(&Value::from("input.status")));
        let other = request_error(ServerError::new(r#"Unknown field "nope""#, None));
        assert_eq!(field_of(&other), None, "not about an argument value");
    }

    #[test]
    fn execution_parse_errors_name_the_argument_and_drop_the_engine_key() {
        let mut e = ServerError::new(r#"Failed to parse "DateTime": bad"#, None);
        e.extensions
            .get_or_insert_with(Default::default)
            .set("argument", "filter");
        let out = finalize(e, None);
        assert_eq!(field_of(&out), Some(&Value::from("filter")));
        assert!(out.extensions.unwrap().get("argument").is_none());
    }

    #[test]
    fn errors_are_sorted_by_location_then_path() {
        use async_graphql::PathSegment;
        let at = |line, column, path: Vec<PathSegment>| {
            let mut e = ServerError::new(
                format!("{line}:{column}:{path:?}"),
                Some(Pos { line, column }),
            );
            e.path = path;
            e
        };
        let f = |s: &str| PathSegment::Field(s.to_owned());
        let mut errors = vec![
            at(3, 5, vec![f("b")]),
            at(2, 5, vec![f("a"), PathSegment::Index(10), f("x")]),
            at(2, 5, vec![f("a"), PathSegment::Index(2), f("x")]),
            at(1, 1, vec![]),
        ];
        in_document_order(&mut errors);
        let order: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            order,
            [
                "1:1:[]",
                r#"2:5:[Field("a"), Index(2), Field("x")]"#,
                r#"2:5:[Field("a"), Index(10), Field("x")]"#,
                r#"3:5:[Field("b")]"#,
            ]
        );
    }
}
