//! The GraphQL endpoint over HTTP: `POST /graphql` and `GET /graphql`.
//!
//! Transport rules, checked before anything executes:
//! - CSRF: a content type a browser may send cross-site without a preflight (`text/plain`,
//!   `application/x-www-form-urlencoded`, `multipart/form-data`, or none) is refused unless
//!   the request carries a non-empty `apollo-require-preflight` or `x-apollo-operation-name`.
//! - The body is capped (`413`), batches are capped (`400`), and `GET` runs queries only:
//!   a mutation or subscription over `GET` is `405` with `Allow: POST`.
//! - Responses are `application/graphql-response+json` when the client accepts it (with
//!   `400` for a request that never executed), else `application/json` (always `200`).

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use crate::app::AppState;
use crate::auth::AuthContext;
use crate::error::ErrorCode;
use crate::graphql::loaders::Loaders;
use crate::graphql::viewer::ClientIp;
use crate::http::{graphiql, limits, reply, request_body, wire, ws};
use crate::request_id::RequestId;

/// The media type of the GraphQL-over-HTTP specification.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// `POST /graphql`.
pub async fn post(State(app): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = request_id(&parts.extensions);
    let headers = &parts.headers;
    let media_type = media_type(headers);
    if is_simple_media_type(media_type.as_deref()) && !has_preflight_header(headers) {
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "This request was refused as a possible cross-site request forgery: send it as \
             `Content-Type: application/json`, or add a non-empty `apollo-require-preflight` header",
        );
    }
    let json_like = matches!(
        media_type.as_deref(),
        Some("application/json" | GRAPHQL_RESPONSE_JSON)
    ) || matches!(media_type.as_deref(), None | Some("text/plain"));
    if !json_like {
        return reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            "Send GraphQL requests as `application/json`",
        );
    }
    let limits = &app.config.graphql;
    if let Some(refused) = limits::overload::shed(&app.pool, app.config.database.pool_max_waiting) {
        return refused;
    }
    let bytes = match read_body(body, headers, limits.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let parsed = request_body::parse(&bytes);
    let batch = match parsed {
        Ok(batch) => batch,
        Err(e) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("The body is not a GraphQL request: {e}"),
            );
        }
    };
    if let BatchRequest::Batch(requests) = &batch
        && (requests.is_empty() || requests.len() > limits.max_batch)
    {
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            &format!(
                "A batch must hold between 1 and {} operations",
                limits.max_batch
            ),
        );
    }
    let context = RequestContext::new(&app, &parts, request_id);
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(context.attach(r)),
        BatchRequest::Batch(rs) => {
            BatchRequest::Batch(rs.into_iter().map(|r| context.attach(r)).collect())
        }
    };
    limits::overload::within(limits.request_timeout, async {
        let response = app.schema.execute_batch(batch).await;
        respond(response, headers)
    })
    .await
}

/// `GET /graphql`: a WebSocket upgrade, GraphiQL for a browser, or a query in the URL.
pub async fn get(State(app): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let request_id = request_id(&parts.extensions);
    if is_websocket_upgrade(&parts.headers) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &app).await {
            Ok(upgrade) => {
                let ip = client_ip(&app, &parts);
                ws::upgrade(app, upgrade, &parts.headers, request_id, ip)
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    let query_string = parts.uri.query().unwrap_or("");
    let has_query = query_string
        .split('&')
        .any(|pair| pair.starts_with("query="));
    if !has_query {
        if accepts_html(&parts.headers) {
            return graphiql::page(app.dev_issuer.is_some());
        }
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "GET /graphql needs a `query` parameter (or open it in a browser for GraphiQL)",
        );
    }
    let request = match parse_get_parameters(query_string) {
        Ok(request) => request,
        Err(e) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("Cannot read the query parameters: {e}"),
            );
        }
    };
    if let Some(OperationType::Mutation | OperationType::Subscription) =
        operation_type(&request.query, request.operation_name.as_deref())
    {
        let mut response = reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadUserInput,
            "Only queries may be sent with GET; send mutations and subscriptions with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if let Some(refused) = limits::overload::shed(&app.pool, app.config.database.pool_max_waiting) {
        return refused;
    }
    let context = RequestContext::new(&app, &parts, request_id);
    limits::overload::within(app.config.graphql.request_timeout, async {
        let response = app.schema.execute(context.attach(request)).await;
        respond(BatchResponse::Single(response), &parts.headers)
    })
    .await
}

/// The GraphQL-over-HTTP GET parameters. (async-graphql's own parser reads
/// `operation_name` rather than the specification's `operationName`.)
#[derive(serde::Deserialize)]
struct GetParameters {
    query: String,
    #[serde(rename = "operationName", alias = "operation_name")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn parse_get_parameters(query_string: &str) -> Result<async_graphql::Request, String> {
    let params: GetParameters =
        serde_urlencoded::from_str(query_string).map_err(|e| e.to_string())?;
    let json = |raw: Option<String>, what: &str| -> Result<Option<serde_json::Value>, String> {
        raw.filter(|r| !r.is_empty())
            .map(|r| serde_json::from_str(&r).map_err(|e| format!("invalid {what}: {e}")))
            .transpose()
    };
    let mut request = async_graphql::Request::new(params.query);
    if let Some(name) = params.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = json(params.variables, "variables")? {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    if let Some(extensions) = json(params.extensions, "extensions")? {
        request.extensions =
            serde_json::from_value(extensions).map_err(|e| format!("invalid extensions: {e}"))?;
    }
    Ok(request)
}

/// What every operation of one HTTP request gets as request data.
struct RequestContext {
    pool: crate::db::DbPool,
    request_id: RequestId,
    auth: Arc<AuthContext>,
    client_ip: Option<ClientIp>,
}

impl RequestContext {
    fn new(app: &AppState, parts: &axum::http::request::Parts, request_id: RequestId) -> Self {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let ip = limits::client_ip::of_request(parts, &app.config.limits.trusted_proxies);
        let client_ip = ip.map(|ip| ClientIp(ip.to_string()));
        Self {
            pool: app.pool.clone(),
            request_id,
            auth: Arc::new(AuthContext::from_authorization(authorization).with_client_ip(ip)),
            client_ip,
        }
    }

    fn attach(&self, request: async_graphql::Request) -> async_graphql::Request {
        let request = request
            .data(self.request_id.clone())
            .data(Arc::clone(&self.auth))
            .data(Loaders::new(self.pool.clone()));
        match &self.client_ip {
            Some(ip) => request.data(ip.clone()),
            None => request,
        }
    }
}

/// The client address: the peer, or what a trusted proxy says (`TRUSTED_PROXIES`).
fn client_ip(app: &AppState, parts: &axum::http::request::Parts) -> Option<ClientIp> {
    limits::client_ip::of_request(parts, &app.config.limits.trusted_proxies)
        .map(|ip| ClientIp(ip.to_string()))
}

fn request_id(extensions: &axum::http::Extensions) -> RequestId {
    extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate)
}

/// The type of the operation a GET request would run; `None` when the document does not
/// parse or names no such operation (execution then reports the error).
fn operation_type(query: &str, operation_name: Option<&str>) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Reads the body, refusing anything over `limit` bytes with 413.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadUserInput,
            &format!("The request body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// The media type of the request, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = raw.split(';').next()?.trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// Content types a browser sends cross-site without a CORS preflight.
fn is_simple_media_type(media_type: Option<&str>) -> bool {
    matches!(
        media_type,
        None | Some("text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data")
    )
}

fn has_preflight_header(headers: &HeaderMap) -> bool {
    ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| {
            headers
                .get(*name)
                .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
        })
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn accepts_graphql_response_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE_JSON))
}

/// Serialises the response with the negotiated media type and status.
fn respond(response: BatchResponse, headers: &HeaderMap) -> Response {
    let modern = accepts_graphql_response_json(headers);
    let request_error = match &response {
        BatchResponse::Single(r) => wire::is_request_error(r),
        BatchResponse::Batch(_) => false,
    };
    let status = if modern && request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if modern {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let body = match wire::to_vec(&response) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            return reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                ErrorCode::Internal.public_message(),
            );
        }
    };
    let mut reply = (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    limits::rate::mark(&response, &mut reply);
    limits::overload::mark(&response, &mut reply);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_operation_a_get_would_run() {
        assert_eq!(operation_type("{ a }", None), Some(OperationType::Query));
        assert_eq!(
            operation_type("mutation { a }", None),
            Some(OperationType::Mutation)
        );
        let two = "query Q { a } mutation M { b }";
        assert_eq!(
            operation_type(two, Some("M")),
            Some(OperationType::Mutation)
        );
        assert_eq!(operation_type(two, Some("Q")), Some(OperationType::Query));
        assert_eq!(operation_type(two, None), None);
        assert_eq!(operation_type("not graphql", None), None);
    }

    #[test]
    fn get_parameters_follow_the_specification() {
        let r = parse_get_parameters("query=%7Ba%7D&operationName=M&variables=%7B%22x%22%3A1%7D")
            .unwrap();
        assert_eq!(r.query, "{a}");
        assert_eq!(r.operation_name.as_deref(), Some("M"));
        assert_eq!(r.variables.get("x"), Some(&async_graphql::Value::from(1)));
        assert!(parse_get_parameters("query=%7Ba%7D&variables=nope").is_err());
        assert!(
            parse_get_parameters("operationName=M").is_err(),
            "query is required"
        );
    }

    #[test]
    fn simple_media_types_need_a_preflight_header() {
        assert!(is_simple_media_type(None));
        assert!(is_simple_media_type(Some("text/plain")));
        assert!(!is_simple_media_type(Some("application/json")));
        let mut headers = HeaderMap::new();
        assert!(!has_preflight_header(&headers));
        headers.insert("apollo-require-preflight", HeaderValue::from_static(" "));
        assert!(!has_preflight_header(&headers));
        headers.insert("apollo-require-preflight", HeaderValue::from_static("true"));
        assert!(has_preflight_header(&headers));
    }
}
