//! GraphiQL, served entirely from the binary: the page and its vendored assets (see
//! `graphiql/vendor/VERSIONS.md`; regenerate with `npm run vendor:graphiql` in `codegen/`).
//! Nothing is fetched from a CDN, so it works on a machine with no internet.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The GraphiQL page (`GET /graphql` from a browser).
pub const INDEX_HTML: &str = include_str!("graphiql/index.html");

/// The assets the page loads, by file name under `/graphiql/`.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("graphiql/vendor/graphiql.min.css"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/vendor/graphiql.min.js"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/vendor/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/vendor/react-dom.production.min.js"),
    ),
];

/// Content-Security-Policy of the page: same-origin scripts and styles plus the page's own
/// inline bootstrap; connections only back to this server (HTTP and WebSocket).
const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page.
pub fn page() -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `GET /graphiql/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
