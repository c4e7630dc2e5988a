//! Checks at the edge of every operation (HTTP and WebSocket alike), before async-graphql
//! parses, validates or runs anything:
//!
//! - the document is parsed once here and handed on, so nothing parses it twice;
//! - its size with fragment spreads expanded ([`cost::expanded_selections`]) is at most
//!   `GRAPHQL_MAX_SELECTIONS`, so validation is bounded by the document's real size and a
//!   fragment bomb is refused in microseconds;
//! - `operationName` names one operation of the document (several operations and no name,
//!   or a name that is not there, is the client's mistake: `BAD_USER_INPUT`);
//! - no argument or variable holds a NUL character ([`input_text`]);
//! - the operation gets its per-request state ([`RequestScope`]).
//!
//! Every refusal is `BAD_USER_INPUT` with `extensions.field`, before anything executes, so
//! an `application/graphql-response+json` client gets HTTP 400.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Pos, Request, ServerError, ServerResult};

use crate::error::{ApiError, AppError};
use crate::graphql::{cost, input_text, viewer};

/// Factory for the edge checks (installed on every schema).
pub struct EdgeChecks {
    /// Most selections a document may expand to.
    pub max_selections: u64,
}

impl ExtensionFactory for EdgeChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EdgeChecksExtension {
            max_selections: self.max_selections,
        })
    }
}

struct EdgeChecksExtension {
    max_selections: u64,
}

#[async_graphql::async_trait::async_trait]
impl Extension for EdgeChecksExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A document that does not parse is reported by async-graphql as before.
        if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
            self.check(&document, &request)?;
            request.set_parsed_query(document);
        }
        let request = request.data(viewer::RequestScope::default());
        next.run(ctx, request).await
    }
}

impl EdgeChecksExtension {
    fn check(&self, document: &ExecutableDocument, request: &Request) -> ServerResult<()> {
        let size = cost::expanded_selections(document);
        if size > self.max_selections {
            return Err(refuse(
                "query",
                format!(
                    "The query expands to more than {} selections once its fragments are \
                     spread; make it smaller",
                    self.max_selections
                ),
            ));
        }
        check_operation_name(document, request.operation_name.as_deref())?;
        if let Some(field) = input_text::first_nul(document, &request.variables) {
            return Err(refuse(
                &field,
                "Text may not contain the NUL character (\\u0000)".into(),
            ));
        }
        Ok(())
    }
}

/// `operationName` must select exactly one operation of the document.
fn check_operation_name(document: &ExecutableDocument, name: Option<&str>) -> ServerResult<()> {
    match (&document.operations, name) {
        (DocumentOperations::Single(_), None) => Ok(()),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => Ok(()),
        (DocumentOperations::Multiple(_), None) => Err(refuse(
            "operationName",
            "The document holds several operations: name the one to run in `operationName`".into(),
        )),
        (DocumentOperations::Multiple(ops), Some(name))
            if ops.iter().any(|(n, _)| n.as_str() == name) =>
        {
            Ok(())
        }
        (_, Some(name)) => Err(refuse(
            "operationName",
            format!("The document holds no operation named `{name}`"),
        )),
    }
}

fn refuse(field: &str, message: String) -> ServerError {
    let mut error = async_graphql::Error::from(ApiError::from(AppError::bad_input(field, message)))
        .into_server_error(Pos::default());
    // The whole request is at fault, not a place in the document.
    error.locations.clear();
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_check(query: &str, name: Option<&str>) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        check_operation_name(&document, name).map_err(|e| e.message)
    }

    #[test]
    fn operation_name_selects_one_operation() {
        assert!(name_check("{ a }", None).is_ok());
        assert!(name_check("query A { a }", None).is_ok());
        assert!(name_check("query A { a } query B { b }", Some("B")).is_ok());
        assert!(name_check("query A { a } query B { b }", None).is_err());
        assert!(name_check("query A { a } query B { b }", Some("C")).is_err());
        assert!(name_check("{ a }", Some("A")).is_err());
    }
}
