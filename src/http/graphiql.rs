//! GraphiQL, served entirely from the binary: the page and its vendored assets (see
//! `graphiql/vendor/VERSIONS.md`; regenerate with `npm run vendor:graphiql` in `codegen/`).
//! Nothing is fetched from a CDN, so it works on a machine with no internet.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The GraphiQL page (`GET /graphql` from a browser), before [`page`] fills in the editors'
/// first contents.
pub const INDEX_HTML: &str = include_str!("graphiql/index.html");

/// Where [`page`] puts the editors' defaults (a JSON object `{query, headers}`).
const DEFAULTS_PLACEHOLDER: &str = "__PLATFORM_API_DEFAULTS__";

/// The query editor's first contents without the development issuer.
const PLAIN_QUERY: &str = "{ apiVersion }";

/// With the development issuer on: how to get a token, as GraphQL comments.
const DEV_QUERY: &str = "# Most fields need a token. In a terminal next to the server:\n\
#   cargo run -q -- dev-token --sub alice --email alice@example.com\n\
# (`platform-api dev-token --help` lists the options: --aud dezky-operator,\n\
# --groups dezky-platform-admins, …), then replace <token> in the Headers tab below.\n\
# An operator's first query is `{ me { platformAdmin } }`: it applies the groups claim.\n\
{ apiVersion me { user { email } audience } }\n";

/// With the development issuer on: the headers editor's template.
const DEV_HEADERS: &str =
    "{\n  \"Authorization\": \"Bearer <token: platform-api dev-token --sub alice>\"\n}";

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

/// The page's HTML. With `dev_tokens` (the development issuer is on) the query editor
/// explains how to get a token and the headers editor holds an `Authorization` template;
/// otherwise (production, or real issuers) nothing extra.
pub fn html(dev_tokens: bool) -> String {
    let (query, headers) = if dev_tokens {
        (DEV_QUERY, DEV_HEADERS)
    } else {
        (PLAIN_QUERY, "{}")
    };
    let defaults = serde_json::json!({ "query": query, "headers": headers })
        .to_string()
        // Inside <script>: no `<` that could close the element.
        .replace('<', "\\u003c");
    INDEX_HTML.replace(DEFAULTS_PLACEHOLDER, &defaults)
}

/// The page.
pub fn page(dev_tokens: bool) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html(dev_tokens),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON object the page's script receives.
    fn defaults(html: &str) -> serde_json::Value {
        let start = html.find("var defaults = ").unwrap() + "var defaults = ".len();
        let end = start + html[start..].find(";\n").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn with_the_development_issuer_the_editors_explain_how_to_get_a_token() {
        let html = html(true);
        assert!(!html.contains(DEFAULTS_PLACEHOLDER));
        let d = defaults(&html);
        let headers: serde_json::Value =
            serde_json::from_str(d["headers"].as_str().unwrap()).expect("valid JSON headers");
        assert!(
            headers["Authorization"]
                .as_str()
                .unwrap()
                .starts_with("Bearer <token")
        );
        let query = d["query"].as_str().unwrap();
        assert!(query.contains("dev-token --sub alice"), "{query}");
        assert!(
            async_graphql::parser::parse_query(query).is_ok(),
            "the query parses"
        );
        assert!(!html.contains("<token"), "no raw `<` inside the script");
    }

    #[test]
    fn otherwise_nothing_extra() {
        let d = defaults(&html(false));
        assert_eq!(d["headers"], "{}");
        assert_eq!(d["query"], "{ apiVersion }");
        assert!(!html(false).contains("dev-token"));
    }
}
