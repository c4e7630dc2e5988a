//! GraphiQL works offline: the page references only paths on this server, and those paths
//! serve the vendored assets.

use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::support::TestApp;

/// Every `src="…"` and `href="…"` value in the page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            rest = &rest[start + attr.len()..];
            let end = rest.find('"').expect("closing quote");
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[tokio::test]
async fn graphiql_page_loads_only_assets_served_by_this_server() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("GraphiQL.createFetcher"));
    assert!(
        !html.contains("http://")
            && !html.contains("https://")
            && !html.contains("//unpkg")
            && !html.contains("cdn"),
        "no external URL in the page"
    );

    let refs = references(&html);
    assert_eq!(refs.len(), 4, "{refs:?}");
    for path in refs {
        assert!(
            path.starts_with("/graphiql/"),
            "{path} is not a path on this server"
        );
        let asset = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{path}");
        let content_type = asset.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        let expected = if path.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        let bytes = asset.bytes().await.unwrap();
        let vendored = std::fs::read(format!(
            "{}/src/http/graphiql/vendor/{}",
            env!("CARGO_MANIFEST_DIR"),
            path.trim_start_matches("/graphiql/")
        ))
        .unwrap();
        assert_eq!(
            bytes.as_ref(),
            vendored.as_slice(),
            "{path} is served byte for byte"
        );
    }
    let css = app
        .client
        .get(app.url("/graphiql/graphiql.min.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let remote_urls = css.matches("url(").count()
        - css.matches("url(data:").count()
        - css.matches("url(\"data:").count()
        - css.matches("url('data:").count();
    assert_eq!(
        remote_urls, 0,
        "every url() in the stylesheet is inline data"
    );
    assert!(!css.contains("@import"), "no stylesheet imports");
}

#[tokio::test]
async fn unknown_assets_are_404() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.client
            .get(app.url("/graphiql/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client
            .get(app.url("/graphiql/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
