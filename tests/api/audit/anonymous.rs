//! A mutation without valid credentials is refused before anything runs, writes no audit row
//! (anyone could fill the log), and is counted in `/metrics` instead.

use serde_json::json;

use crate::support::app::first_error_code;
use crate::support::tables::count;
use crate::support::{Token, World};

async fn anonymous_counter(w: &World) -> u64 {
    let text = w
        .client
        .get(w.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("platform_api_anonymous_mutations_total "))
        .expect("the counter is exported")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn anonymous_mutations_are_counted_not_audited() {
    let w = World::new().tenant("acme").spawn().await;
    let mut conn = w.db.connect().await;
    let rows = count(&mut conn, "audit_events").await;
    assert_eq!(anonymous_counter(&w).await, 0);

    let suspend =
        r#"mutation($t: String!) { suspendTenant(input: { tenant: $t }) { tenant { status } } }"#;
    let body = w.graphql_with(suspend, json!({ "t": "acme" })).await;
    assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "{body}");
    // A token that does not verify is no better than none.
    let forged = format!("{}x", Token::portal("mallory").sign(&w));
    let body = w
        .graphql_as_with(&forged, suspend, json!({ "t": "acme" }))
        .await;
    assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "{body}");

    assert_eq!(count(&mut conn, "audit_events").await, rows, "no audit row");
    assert_eq!(anonymous_counter(&w).await, 2);
    assert_eq!(
        count(
            &mut conn,
            "tenants WHERE slug = 'acme' AND status = 'pending'"
        )
        .await,
        1,
        "nothing changed"
    );
}
