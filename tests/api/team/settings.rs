//! `updatePartnerSettings` and the tenant's industry and brand colour.

use serde_json::json;

use super::world;
use crate::support::fakes;

const SETTINGS: &str = r#"
mutation($input: UpdatePartnerSettingsInput!) {
  updatePartnerSettings(input: $input) { partner { name domain contactInfo billingInfo marginPct } }
}"#;

const UPDATE_TENANT: &str = r#"
mutation($input: UpdateTenantInput!) {
  updateTenant(input: $input) { tenant { industry brandColor } }
}"#;

#[tokio::test]
async fn partner_admins_edit_their_settings_and_the_audit_names_fields_only() {
    let authentik = fakes::authentik::spawn().await;
    let w = world(&authentik).await;
    let input = json!({ "input": { "partner": "resell", "name": "Resell AG", "domain": "resell.example",
        "contactInfo": { "email": "ops@resell.example", "phone": "+41 44 000 00 00" },
        "billingInfo": { "vatId": "CHE-123.456.789" } } });
    let body = w
        .allowed("padmin", SETTINGS, input, "partner.update_settings")
        .await;
    let partner = &body["data"]["updatePartnerSettings"]["partner"];
    assert_eq!(partner["name"], "Resell AG");
    assert_eq!(partner["contactInfo"]["phone"], "+41 44 000 00 00");
    let audit = w
        .query(
            "root",
            r#"{ auditEvents(first: 1, filter: { action: "partner.update_settings" }) { nodes { details } } }"#,
        )
        .await;
    let details = &audit["data"]["auditEvents"]["nodes"][0]["details"];
    assert_eq!(
        details,
        &json!({ "fields": ["name", "domain", "contactInfo", "billingInfo"] })
    );
    assert!(!details.to_string().contains("ops@resell.example"));
    assert!(!details.to_string().contains("CHE-123"));

    // Staff members, other partners' admins, customers: refused, nothing changed.
    let rename = json!({ "input": { "partner": "resell", "name": "Mine" } });
    w.denied(
        Some("pstaff"),
        SETTINGS,
        rename.clone(),
        "partner.update_settings",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("tadmin"),
        SETTINGS,
        rename.clone(),
        "partner.update_settings",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("oadmin"),
        SETTINGS,
        rename.clone(),
        "partner.update_settings",
        "NOT_FOUND",
    )
    .await;
    w.allowed("root", SETTINGS, rename, "partner.update_settings")
        .await;
    // Margin and status are not part of the input at all.
    let body = w
        .query_with(
            "padmin",
            SETTINGS,
            json!({ "input": { "partner": "resell", "marginPct": 50 } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    for (input, field) in [
        (
            json!({ "partner": "resell", "domain": "not a domain" }),
            "input.domain",
        ),
        (json!({ "partner": "resell", "name": "" }), "input.name"),
        (
            json!({ "partner": "resell", "contactInfo": [1, 2] }),
            "input.contactInfo",
        ),
        (json!({ "partner": "resell" }), "input"),
    ] {
        w.invalid(
            "padmin",
            SETTINGS,
            json!({ "input": input }),
            "partner.update_settings",
            field,
        )
        .await;
    }
}

#[tokio::test]
async fn tenant_industry_and_brand_colour() {
    let authentik = fakes::authentik::spawn().await;
    let w = world(&authentik).await;
    let body = w
        .allowed(
            "tadmin",
            UPDATE_TENANT,
            json!({ "input": { "tenant": "acme", "industry": "LEGAL", "brandColor": "#AA0000" } }),
            "tenant.update",
        )
        .await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"],
        json!({ "industry": "LEGAL", "brandColor": "#aa0000" })
    );
    w.allowed(
        "pstaff",
        UPDATE_TENANT,
        json!({ "input": { "tenant": "acme", "industry": null } }),
        "tenant.update",
    )
    .await;
    let body = w
        .query(
            "tadmin",
            r#"{ tenant(slug: "acme") { industry brandColor } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"],
        json!({ "industry": null, "brandColor": "#aa0000" })
    );
    w.invalid(
        "tadmin",
        UPDATE_TENANT,
        json!({ "input": { "tenant": "acme", "brandColor": "red" } }),
        "tenant.update",
        "input.brandColor",
    )
    .await;
    // Not in the fixed list: refused by the schema, nothing written.
    let body = w
        .query_with(
            "tadmin",
            UPDATE_TENANT,
            json!({ "input": { "tenant": "acme", "industry": "ASTROLOGY" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    w.denied(
        Some("oadmin"),
        UPDATE_TENANT,
        json!({ "input": { "tenant": "acme", "industry": "LEGAL" } }),
        "tenant.update",
        "NOT_FOUND",
    )
    .await;
}
