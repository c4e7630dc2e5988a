//! `saveReport`, `savedReports`, `deleteSavedReport`: per partner, audited, scoped.

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::{Level, Tenant, World};

const SAVE: &str = r#"
mutation($input: SaveReportInput!) {
  saveReport(input: $input) { report { id name kind parameters } }
}"#;

const LIST: &str = r#"
query($partner: String!) { savedReports(partner: $partner) { id name kind parameters } }"#;

const DELETE: &str = r#"
mutation($input: DeleteSavedReportInput!) {
  deleteSavedReport(input: $input) { report { name } }
}"#;

async fn world() -> World {
    World::new()
        .partner("one")
        .partner("two")
        .tenant(Tenant::of("ant", "one"))
        .operator("root")
        .staff("sue", "one", Level::Member)
        .staff("tim", "two", Level::Admin)
        .spawn()
        .await
}

fn input(partner: &str, name: &str) -> Value {
    json!({ "input": {
        "partner": partner, "name": name, "kind": "TOP_CUSTOMERS",
        "parameters": { "first": 5, "period": { "from": "2026-01-01T00:00:00Z" } }
    }})
}

#[tokio::test]
async fn staff_save_list_and_delete_their_partners_reports() {
    let w = world().await;
    let saved = w
        .allowed("sue", SAVE, input("one", "Top five"), "report.save")
        .await;
    let report = &saved["data"]["saveReport"]["report"];
    assert_eq!(report["kind"], "TOP_CUSTOMERS");
    assert_eq!(report["parameters"]["first"], 5);
    w.allowed("root", SAVE, input("one", "Operator's"), "report.save")
        .await;
    let list = w.query_with("sue", LIST, json!({ "partner": "one" })).await;
    let names: Vec<&str> = list["data"]["savedReports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Operator's", "Top five"]);
    // The same name twice is a conflict; nothing written but the audit row.
    w.refused(
        Some("sue"),
        SAVE,
        input("one", " Top five "),
        "report.save",
        "CONFLICT",
        "failure",
    )
    .await;
    w.invalid("sue", SAVE, input("one", "  "), "report.save", "input.name")
        .await;
    let mut bad = input("one", "Array");
    bad["input"]["parameters"] = json!([1, 2]);
    w.invalid("sue", SAVE, bad, "report.save", "input.parameters")
        .await;
    // Another partner's staff: not found, for the list, a save and a delete.
    let body = w.query_with("tim", LIST, json!({ "partner": "one" })).await;
    assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
    w.denied(
        Some("tim"),
        SAVE,
        input("one", "Mine"),
        "report.save",
        "NOT_FOUND",
    )
    .await;
    let id = report["id"].clone();
    w.denied(
        Some("tim"),
        DELETE,
        json!({ "input": { "id": id } }),
        "report.delete",
        "NOT_FOUND",
    )
    .await;
    let deleted = w
        .allowed(
            "sue",
            DELETE,
            json!({ "input": { "id": id } }),
            "report.delete",
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteSavedReport"]["report"]["name"],
        "Top five"
    );
    w.denied(
        Some("sue"),
        DELETE,
        json!({ "input": { "id": id } }),
        "report.delete",
        "NOT_FOUND",
    )
    .await;
    let list = w.query_with("tim", LIST, json!({ "partner": "two" })).await;
    assert_eq!(list["data"]["savedReports"], json!([]), "{list}");
}
