//! Finding 5: the SQL a request costs is bounded by its complexity. `me` applies the groups
//! claim once per operation whatever the aliases, and `totalCount` (a count statement per
//! selection) costs 10 towards the complexity limit.

use crate::support::World;
use crate::support::app::first_error_code;

fn aliases(n: usize, field: &str) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn aliases_of_me_sync_the_groups_claim_once() {
    let w = World::new().user("bob").spawn().await;
    let token = w.who("bob").groups(&["dezky-platform-admins"]).sign(&w);
    // Warm up: the first `me` creates the user's admin flag (and audits it).
    let body = w.graphql_as(&token, "{ me { platformAdmin } }").await;
    assert_eq!(body["data"]["me"]["platformAdmin"], true, "{body}");
    let before = w.statements();
    let body = w.graphql_as(&token, "{ me { platformAdmin } }").await;
    assert!(body.get("errors").is_none(), "{body}");
    let one = w.statements() - before;
    let before = w.statements();
    let body = w
        .graphql_as(&token, &aliases(150, "me { platformAdmin }"))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["a149"]["platformAdmin"], true);
    assert_eq!(
        w.statements() - before,
        one,
        "150 aliases cost what one does"
    );
    // `me` weighs 5 (+1 per selected field): 200 aliases are over the limit of 1000.
    let body = w
        .graphql_as(&token, &aliases(200, "me { platformAdmin }"))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn counted_fields_cost_more() {
    let w = World::new().operator("root").spawn().await;
    let before = w.statements();
    let body = w
        .query("root", &aliases(300, "tenants(first: 1) { totalCount }"))
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{body}"
    );
    assert_eq!(w.statements(), before, "refused before any SQL");
    // 90 × (1 + 10) = 990 fits.
    let body = w
        .query("root", &aliases(90, "tenants(first: 1) { totalCount }"))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}
