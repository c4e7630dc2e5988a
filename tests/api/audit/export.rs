//! `exportAuditEvents`, `auditExport` and `GET /exports/<id>`: the CSV parses back to exactly
//! the events `auditEvents` gives the same caller with the same filter; foreign, expired and
//! revoked exports answer `NOT_FOUND` (404); the request is audited.

use std::time::Duration;

use serde_json::{Value, json};

use super::{AuditEvent, at, expect, labels_for, world};
use crate::support::World;
use crate::support::app::first_error_code;
use crate::support::tables::count;
use crate::support::world::Arrange;

pub const EXPORT: &str = r#"
mutation($input: ExportAuditEventsInput!) {
  exportAuditEvents(input: $input) { export { id status downloadUrl } }
}"#;

const STATUS: &str = r#"
query($id: ID!) {
  auditExport(id: $id) { id status rowCount byteCount truncated downloadUrl expiresAt error }
}"#;

/// A world whose jobs run: the audit [`world`] plus a sibling replica with one worker.
async fn working_world() -> (World, World) {
    let w = world().await;
    let worker = w.spawn_sibling(|c| c.jobs.workers = 1).await;
    (w, worker)
}

/// Starts an export as `who` and waits until it is `READY`; returns its `auditExport`.
async fn export_ready(w: &World, who: &str, filter: Value) -> Value {
    let body = w
        .query_with(who, EXPORT, json!({ "input": { "filter": filter } }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let export = &body["data"]["exportAuditEvents"]["export"];
    assert_eq!(export["status"], "QUEUED", "{body}");
    assert_eq!(
        export["downloadUrl"],
        Value::Null,
        "no URL before it is written"
    );
    let id = export["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        let body = w.query_with(who, STATUS, json!({ "id": id })).await;
        let status = &body["data"]["auditExport"];
        match status["status"].as_str() {
            Some("READY") => return status.clone(),
            Some("QUEUED" | "RUNNING") => tokio::time::sleep(Duration::from_millis(25)).await,
            _ => panic!("unexpected {body}"),
        }
    }
    panic!("export {id} never became ready");
}

/// `GET <path>` with `who`'s token (or none).
async fn download(w: &World, who: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = w.app.client.get(w.app.url(path));
    if let Some(who) = who {
        request = request.bearer_auth(w.token(who));
    }
    request.send().await.unwrap()
}

/// The CSV's rows as header → value maps, parsed back with the `csv` crate.
async fn rows_of(
    w: &World,
    who: &str,
    export: &Value,
) -> Vec<std::collections::HashMap<String, String>> {
    let response = download(w, Some(who), export["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        export["byteCount"].as_i64().unwrap(),
        bytes.len() as i64,
        "byteCount is the file's size"
    );
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<_> = reader
        .records()
        .map(|r| {
            let r = r.expect("a valid CSV record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    assert_eq!(export["rowCount"].as_i64().unwrap(), rows.len() as i64);
    rows
}

/// The `request_id` column (the events' labels), in file order.
fn labels(rows: &[std::collections::HashMap<String, String>]) -> Vec<String> {
    rows.iter().map(|r| r["request_id"].clone()).collect()
}

#[tokio::test]
async fn the_csv_parses_back_with_quotes_commas_newlines_and_formulas() {
    let (mut w, worker) = working_world().await;
    let nasty = [
        ("n1", "a,b,c"),
        ("n2", "say \"hi\""),
        ("n3", "line one\nline two\r\nline three"),
        ("n4", "=HYPERLINK(\"http://evil\")"),
        ("n5", "+1"),
        ("n6", "-2+3"),
        ("n7", "@SUM(A1)"),
        ("n8", "\tcmd"),
        ("n9", "\rcmd"),
        ("n10", "plain ünïcödé"),
    ];
    let mut more = Arrange::default();
    for (i, (label, target)) in nasty.iter().enumerate() {
        more = more.event(AuditEvent {
            label: (*label).into(),
            tenant: Some("acme".into()),
            partner: None,
            actor_email: Some("=cmd|' /C calc'!A0".into()),
            action: "tenant.update".into(),
            target_type: "tenant".into(),
            target_id: Some((*target).into()),
            outcome: "success".into(),
            at: at(100 + i as i64),
        });
    }
    w.arrange(more).await;
    let export = export_ready(
        &worker,
        "root",
        json!({ "action": "tenant.update", "since": at(100) }),
    )
    .await;
    let rows = rows_of(&w, "root", &export).await;
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["request_id"].clone(), r["target_id"].clone()))
        .collect();
    let formula = |s: &str| matches!(s.as_bytes()[0], b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r');
    let want: Vec<(String, String)> = nasty
        .iter()
        .rev()
        .map(|(l, t)| {
            let cell = if formula(t) {
                format!("'{t}")
            } else {
                (*t).to_owned()
            };
            ((*l).to_owned(), cell)
        })
        .collect();
    assert_eq!(got, want, "newest first, every cell intact or neutralised");
    for r in &rows {
        assert_eq!(r["actor_email"], "'=cmd|' /C calc'!A0");
        assert_eq!(r["tenant"], "acme");
        assert_eq!(r["outcome"], "success");
        assert!(r["at"].starts_with("2026-01-01T01:"), "{}", r["at"]);
        assert_eq!(r["details"], r#"{"note":"seeded"}"#, "details as JSON");
    }
}

#[tokio::test]
async fn scope_and_filters_equal_the_query() {
    let (w, worker) = working_world().await;
    let cases = [
        ("root", json!(null)),
        ("root", json!({ "partner": "reseller-one" })),
        ("root", json!({ "outcome": "DENIED" })),
        ("root", json!({ "search": "%" })),
        (
            "root",
            json!({ "actorEmail": "ROOT@example.com", "since": at(3), "before": at(8) }),
        ),
        ("alice", json!(null)),
        ("alice", json!({ "tenant": "globex" })),
        ("bob", json!(null)),
        ("bob", json!({ "action": "partner.update" })),
        ("mallory", json!(null)),
        ("stranger", json!(null)),
    ];
    for (who, filter) in cases {
        // The export's own `audit.export` row is in both: the query runs after the request.
        let export = export_ready(&worker, who, filter.clone()).await;
        let listed = labels_for(&w, who, filter.clone()).await;
        let exported = labels(&rows_of(&w, who, &export).await);
        assert_eq!(exported, listed, "{who} {filter}");
    }
    // The fixtures are not all empty: the comparison above has teeth.
    assert_eq!(
        labels_for(&w, "bob", json!(null)).await,
        expect(&[9, 6, 2, 1])
    );
}

#[tokio::test]
async fn foreign_expired_and_revoked_exports_are_not_found() {
    let (w, worker) = working_world().await;
    let export = export_ready(&worker, "alice", json!(null)).await;
    let id = export["id"].as_str().unwrap();
    let path = export["downloadUrl"].as_str().unwrap().to_owned();
    assert_eq!(rows_of(&w, "alice", &export).await.len(), 3);
    // Another caller, even an operator: exactly like an export that does not exist.
    for who in ["root", "bob", "mallory"] {
        let body = w.query_with(who, STATUS, json!({ "id": id })).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{who}: {body}");
        assert_eq!(download(&w, Some(who), &path).await.status(), 404, "{who}");
    }
    assert_eq!(download(&w, None, &path).await.status(), 401);
    assert_eq!(
        download(&w, Some("alice"), "/exports/not-a-uuid")
            .await
            .status(),
        404
    );
    // A revoked role takes the export away at once.
    let mut conn = w.db.connect().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!(
        "UPDATE memberships SET role = 'member' WHERE user_id = '{}'",
        w.id("alice")
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let body = w.query_with("alice", STATUS, json!({ "id": id })).await;
    assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
    assert_eq!(download(&w, Some("alice"), &path).await.status(), 404);
    diesel::sql_query(format!(
        "UPDATE memberships SET role = 'admin' WHERE user_id = '{}'",
        w.id("alice")
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(download(&w, Some("alice"), &path).await.status(), 200);
    // Expired: gone for its owner too, and the retention job deletes it with its chunks.
    diesel::sql_query("UPDATE audit_exports SET expires_at = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    let body = w.query_with("alice", STATUS, json!({ "id": id })).await;
    assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
    assert_eq!(download(&w, Some("alice"), &path).await.status(), 404);
    let mut c = w.db.connect().await;
    let pruned = platform_api::domain::retention::prune_batch(
        &mut c,
        platform_api::domain::retention::Prunable::ExpiredAuditExports,
        chrono::Utc::now(),
        100,
    )
    .await
    .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(count(&mut conn, "audit_export_chunks").await, 0);
}

#[tokio::test]
async fn the_request_is_audited_and_bad_filters_write_nothing() {
    let w = world().await;
    let body = w
        .allowed(
            "alice",
            EXPORT,
            json!({ "input": { "filter": { "tenant": "acme" } } }),
            "audit.export",
        )
        .await;
    let id = body["data"]["exportAuditEvents"]["export"]["id"].clone();
    let mut conn = w.db.connect().await;
    assert_eq!(count(&mut conn, "audit_exports").await, 1);
    assert_eq!(
        count(&mut conn, "jobs WHERE kind = 'audit_export'").await,
        1,
        "a job is queued with the export"
    );
    // Queued, not yet written: visible to its owner without a download URL.
    let status = w.query_with("alice", STATUS, json!({ "id": id })).await;
    assert_eq!(
        status["data"]["auditExport"]["status"], "QUEUED",
        "{status}"
    );
    assert_eq!(status["data"]["auditExport"]["downloadUrl"], Value::Null);
    w.invalid(
        "alice",
        EXPORT,
        json!({ "input": { "filter": { "since": at(5), "before": at(1) } } }),
        "audit.export",
        "input.filter.since",
    )
    .await;
    w.denied(
        None,
        EXPORT,
        json!({ "input": {} }),
        "audit.export",
        "UNAUTHENTICATED",
    )
    .await;
}
