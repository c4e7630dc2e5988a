//! Invalid arguments: each invalid part of each argument is one `BAD_USER_INPUT` error with
//! `extensions.field` (the argument path), whether the value is written in the document,
//! passed in a variable or fails to parse during execution; nothing runs.

use serde_json::json;

use super::{raw, raw_with, same, world};
use crate::support::tables::{count, fingerprint};

fn invalid(column: usize, field: &str, reason: &str) -> String {
    format!(
        r#"{{"message":"Invalid value for argument \"{field}\", {reason}","locations":[{{"line":1,"column":{column}}}],"extensions":{{"code":"BAD_USER_INPUT","field":"{field}"}}}}"#
    )
}

#[tokio::test]
async fn a_wrong_scalar_and_an_unknown_enum_value_in_one_input_are_two_errors() {
    let w = world().await;
    let query = r#"{ tenants(filter: { status: BOGUS, search: 5 }) { totalCount } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"errors":[{},{}]}}"#,
            invalid(
                11,
                "filter.status",
                r#"enumeration type \"TenantStatus\" does not contain the value \"BOGUS\""#
            ),
            invalid(11, "filter.search", r#"expected type \"String\""#)
        ),
    );
}

#[tokio::test]
async fn every_bad_field_of_a_mutation_input_is_reported_and_nothing_is_written() {
    let w = world().await;
    let mut conn = w.app.db.connect().await;
    let before = fingerprint(&mut conn).await;
    let audit_rows = count(&mut conn, "audit_events").await;
    let query = r#"mutation { updateTenant(input: { tenant: "acme", name: 123, plan: 5, colour: "red" }) { tenant { slug } } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"errors":[{},{},{}]}}"#,
            invalid(25, "input.name", r#"expected type \"String\""#),
            invalid(25, "input.plan", r#"expected type \"String\""#),
            invalid(
                25,
                "input",
                r#"unknown field \"colour\" of type \"UpdateTenantInput\""#
            )
        ),
    );
    assert_eq!(fingerprint(&mut conn).await, before, "nothing written");
    assert_eq!(
        count(&mut conn, "audit_events").await,
        audit_rows,
        "refused before execution: no mutation ran, so no audit row"
    );
}

#[tokio::test]
async fn several_invalid_arguments_of_several_fields_are_all_reported() {
    let w = world().await;
    let query = r#"{ tenants(first: "ten", filter: { status: BOGUS }) { totalCount } partner(slug: 5) { slug } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"errors":[{},{},{}]}}"#,
            invalid(11, "first", r#"expected type \"Int\""#),
            invalid(
                25,
                "filter.status",
                r#"enumeration type \"TenantStatus\" does not contain the value \"BOGUS\""#
            ),
            invalid(75, "slug", r#"expected type \"String\""#)
        ),
    );
}

#[tokio::test]
async fn invalid_variables_name_the_argument_path() {
    let w = world().await;
    let query = r#"query($f: TenantFilterInput) { tenants(filter: $f) { totalCount } }"#;
    same(
        &raw_with(
            &w.app,
            Some(&w.root),
            query,
            json!({ "f": { "status": "BOGUS", "search": 5 } }),
        )
        .await,
        &format!(
            r#"{{"errors":[{},{}]}}"#,
            invalid(
                40,
                "filter.status",
                r#"enumeration type \"TenantStatus\" does not contain the value \"BOGUS\""#
            ),
            invalid(40, "filter.search", r#"expected type \"String\""#)
        ),
    );
}

#[tokio::test]
async fn a_value_that_fails_to_parse_while_executing_names_its_argument() {
    let w = world().await;
    // `DateTime` is checked when the resolver reads it, not by validation.
    let query = r#"{ auditEvents(filter: { since: "yesterday" }) { totalCount } }"#;
    let body: serde_json::Value =
        serde_json::from_str(&raw(&w.app, Some(&w.root), query).await).unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], "filter", "{body}");
    assert!(error["extensions"].get("argument").is_none(), "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
}
