//! Keyset pagination newest first on (at, id): forward and backward through a run of equal
//! timestamps, `pageInfo`, `totalCount`, and what one page costs in statements.

use serde_json::{Value, json};

use super::{QUERY, at, labels};
use crate::support::World;
use crate::support::world::AuditEvent;

/// An operator `root` and 12 events: `a1`, `a2` at minutes 1 and 2, `s1`…`s7` all at
/// minute 5 (one run of equal timestamps, inserted in that order), `z1`…`z3` at minutes 8, 9
/// and 10. Returns root's token and the labels newest first: z3 z2 z1 s7 s6 … s1 a2 a1.
async fn a_run_of_equal_timestamps() -> (World, String, Vec<String>) {
    let mut rows: Vec<(String, i64)> = vec![("a1".into(), 1), ("a2".into(), 2)];
    rows.extend((1..=7).map(|n| (format!("s{n}"), 5)));
    rows.extend([("z1".into(), 8), ("z2".into(), 9), ("z3".into(), 10)]);
    let mut arrange = World::new().operator("root");
    for (label, minute) in &rows {
        arrange = arrange.event(AuditEvent {
            label: label.clone(),
            tenant: None,
            partner: None,
            actor_email: Some("root@example.com".into()),
            action: "tenant.update".into(),
            target_type: "tenant".into(),
            target_id: None,
            outcome: "success".into(),
            at: at(*minute),
        });
    }
    let w = arrange.spawn().await;
    let token = w.token("root");
    let newest_first = rows.into_iter().rev().map(|(label, _)| label).collect();
    (w, token, newest_first)
}

fn page_info(body: &Value) -> &Value {
    &body["data"]["auditEvents"]["pageInfo"]
}

#[tokio::test]
async fn forward_pages_visit_every_event_once_in_order() {
    let (app, token, newest_first) = a_run_of_equal_timestamps().await;
    // Sizes 2, 3 and 4 all put page boundaries inside the run of equal timestamps.
    for size in 1..=5 {
        let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
        loop {
            let body = app
                .graphql_as_with(&token, QUERY, json!({ "first": size, "after": after }))
                .await;
            let page = labels(&body);
            assert_eq!(body["data"]["auditEvents"]["totalCount"], 12, "{body}");
            assert_eq!(page_info(&body)["hasPreviousPage"], pages > 0, "{body}");
            pages += 1;
            seen.extend(page);
            if page_info(&body)["hasNextPage"] == false {
                break;
            }
            after = page_info(&body)["endCursor"].clone();
            assert!(pages <= 12, "runaway pagination at size {size}");
        }
        assert_eq!(seen, newest_first, "first: {size}");
        assert_eq!(pages, 12_usize.div_ceil(size), "first: {size}");
    }
}

#[tokio::test]
async fn backward_pages_visit_every_event_once_in_order() {
    let (app, token, newest_first) = a_run_of_equal_timestamps().await;
    for size in 1..=5 {
        let (mut seen, mut before, mut pages) = (Vec::new(), Value::Null, 0);
        loop {
            let body = app
                .graphql_as_with(&token, QUERY, json!({ "last": size, "before": before }))
                .await;
            let mut page = labels(&body);
            assert_eq!(page_info(&body)["hasNextPage"], pages > 0, "{body}");
            pages += 1;
            // Each page is in list order (newest first) and comes before the previous one.
            page.extend(seen);
            seen = page;
            if page_info(&body)["hasPreviousPage"] == false {
                break;
            }
            before = page_info(&body)["startCursor"].clone();
            assert!(pages <= 12, "runaway pagination at size {size}");
        }
        assert_eq!(seen, newest_first, "last: {size}");
    }
}

#[tokio::test]
async fn a_cursor_inside_the_run_resumes_exactly_there() {
    let (app, token, _) = a_run_of_equal_timestamps().await;
    let all = app
        .graphql_as_with(&token, QUERY, json!({ "first": 100 }))
        .await;
    let cursor_of = |label: &str| {
        all["data"]["auditEvents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"]["requestId"] == label)
            .map(|e| e["cursor"].clone())
            .unwrap()
    };
    let s5 = cursor_of("s5");
    let older = app
        .graphql_as_with(&token, QUERY, json!({ "first": 2, "after": s5 }))
        .await;
    assert_eq!(labels(&older), ["s4", "s3"]);
    let newer = app
        .graphql_as_with(&token, QUERY, json!({ "last": 2, "before": s5 }))
        .await;
    assert_eq!(labels(&newer), ["s7", "s6"]);
    assert_eq!(page_info(&newer)["hasPreviousPage"], true);
    assert_eq!(page_info(&newer)["hasNextPage"], true);
    // A cursor combines with filters: the run only (minute 5), after s5.
    let filtered = app
        .graphql_as_with(
            &token,
            QUERY,
            json!({ "first": 10, "after": s5, "filter": {
                "since": at(5).to_rfc3339(), "before": at(6).to_rfc3339() } }),
        )
        .await;
    assert_eq!(labels(&filtered), ["s4", "s3", "s2", "s1"]);
    assert_eq!(filtered["data"]["auditEvents"]["totalCount"], 7);
    assert_eq!(page_info(&filtered)["hasNextPage"], false);
}

#[tokio::test]
async fn a_page_is_one_statement_and_total_count_one_more_only_when_selected() {
    let (app, token, _) = a_run_of_equal_timestamps().await;
    let cost = |query: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let before = app.statements();
            let body = app.graphql_as(token, query).await;
            assert!(body.get("errors").is_none(), "{body}");
            app.statements() - before
        }
    };
    // The Viewer costs 1 (per request), the page 1, whatever the page size.
    assert_eq!(
        cost("{ auditEvents(first: 2) { edges { node { action } } } }").await,
        2
    );
    assert_eq!(
        cost("{ auditEvents(first: 100) { edges { cursor node { action tenantSlug partnerSlug } } } }").await,
        2
    );
    assert_eq!(
        cost("{ auditEvents(last: 3) { nodes { at } pageInfo { hasPreviousPage } } }").await,
        2
    );
    assert_eq!(
        cost("{ auditEvents { ... on AuditEventConnection { edges { node { ip } } } } }").await,
        2
    );
    // totalCount: one more statement, only when selected.
    assert_eq!(
        cost("{ auditEvents(first: 2) { totalCount edges { node { action } } } }").await,
        3
    );
    assert_eq!(cost("{ auditEvents { totalCount } }").await, 2);
    let body = app
        .graphql_as(&token, "{ auditEvents(first: 1) { totalCount } }")
        .await;
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 12, "{body}");
}
