//! Branding inheritance, validation and access.

use serde_json::{Value, json};

use super::{EFFECTIVE, UPDATE, world};

async fn effective(w: &crate::support::World, who: &str, slug: &str) -> Value {
    let body = w.query_with(who, EFFECTIVE, json!({ "slug": slug })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"]["effectiveBranding"].clone()
}

#[tokio::test]
async fn a_tenant_inherits_its_partners_branding_field_by_field_and_can_reset() {
    let w = world().await;
    // Nothing set: the defaults.
    let e = effective(&w, "tmember", "acme").await;
    assert_eq!(
        e["productName"],
        json!({ "value": "Dezky", "source": "DEFAULT" })
    );
    assert_eq!(
        e["accentColor"],
        json!({ "value": "#2563eb", "source": "DEFAULT" })
    );
    assert_eq!(e["logoUrl"], json!({ "value": null, "source": "DEFAULT" }));
    assert_eq!(e["readableTextColor"], "#ffffff");

    // The partner's admin sets the partner's branding: the tenant inherits each field.
    let body = w
        .allowed(
            "padmin",
            UPDATE,
            json!({ "input": { "partner": "resell", "productName": "Resell Mail",
                               "accentColor": "#FFFF00", "logoUrl": "https://cdn.resell.example/logo.svg" } }),
            "branding.update",
        )
        .await;
    let b = &body["data"]["updateBranding"]["branding"];
    assert_eq!(b["accentColor"], "#ffff00", "stored lower-case");
    assert_eq!(b["readableTextColor"], "#000000");
    let e = effective(&w, "tmember", "acme").await;
    assert_eq!(
        e["productName"],
        json!({ "value": "Resell Mail", "source": "PARTNER" })
    );
    assert_eq!(
        e["accentColor"],
        json!({ "value": "#ffff00", "source": "PARTNER" })
    );
    assert_eq!(e["logoUrl"]["source"], "PARTNER");
    assert_eq!(e["readableTextColor"], "#000000");
    // A direct customer is not affected.
    let solo = effective(&w, "outsider", "solo").await;
    assert_eq!(solo["productName"]["source"], "DEFAULT");

    // The tenant overrides one field; the others stay inherited.
    w.allowed(
        "tadmin",
        UPDATE,
        json!({ "input": { "tenant": "acme", "accentColor": "#0000ff" } }),
        "branding.update",
    )
    .await;
    let e = effective(&w, "tmember", "acme").await;
    assert_eq!(
        e["accentColor"],
        json!({ "value": "#0000ff", "source": "TENANT" })
    );
    assert_eq!(e["productName"]["source"], "PARTNER");
    assert_eq!(e["readableTextColor"], "#ffffff");
    let audit = w
        .query(
            "root",
            r#"{ auditEvents(first: 1, filter: { action: "branding.update" }) { nodes { details } } }"#,
        )
        .await;
    assert_eq!(
        audit["data"]["auditEvents"]["nodes"][0]["details"],
        json!({ "accentColor": { "from": null, "to": "#0000ff" } }),
        "{audit}"
    );

    // Reset to inherit: null clears the tenant's own value.
    w.allowed(
        "tadmin",
        UPDATE,
        json!({ "input": { "tenant": "acme", "accentColor": null } }),
        "branding.update",
    )
    .await;
    let body = w
        .query_with("tmember", EFFECTIVE, json!({ "slug": "acme" }))
        .await;
    assert_eq!(
        body["data"]["tenant"]["branding"]["accentColor"],
        Value::Null
    );
    let e = &body["data"]["tenant"]["effectiveBranding"];
    assert_eq!(
        e["accentColor"],
        json!({ "value": "#ffff00", "source": "PARTNER" })
    );
}

#[tokio::test]
async fn colours_and_logo_urls_are_validated_and_nothing_is_written() {
    let w = world().await;
    for (field, value, path) in [
        ("accentColor", "#fff", "input.accentColor"),
        ("accentColor", "blue", "input.accentColor"),
        ("accentColor", "#12345g", "input.accentColor"),
        (
            "logoUrl",
            "http://cdn.example.com/logo.png",
            "input.logoUrl",
        ),
        ("logoUrl", "javascript:alert(1)", "input.logoUrl"),
        ("logoUrl", "data:image/png;base64,AAAA", "input.logoUrl"),
        ("productName", "", "input.productName"),
    ] {
        let mut input = json!({ "tenant": "acme" });
        input[field] = json!(value);
        w.invalid(
            "tadmin",
            UPDATE,
            json!({ "input": input }),
            "branding.update",
            path,
        )
        .await;
    }
    w.invalid(
        "tadmin",
        UPDATE,
        json!({ "input": { "tenant": "acme" } }),
        "branding.update",
        "input",
    )
    .await;
}

#[tokio::test]
async fn who_may_change_branding() {
    let w = world().await;
    let tenant = |color: &str| json!({ "input": { "tenant": "acme", "accentColor": color } });
    let partner = json!({ "input": { "partner": "resell", "productName": "X" } });
    // A member of the tenant sees it but may not change it.
    w.denied(
        Some("tmember"),
        UPDATE,
        tenant("#111111"),
        "branding.update",
        "FORBIDDEN",
    )
    .await;
    // Another tenant's owner does not see it.
    w.denied(
        Some("outsider"),
        UPDATE,
        tenant("#111111"),
        "branding.update",
        "NOT_FOUND",
    )
    .await;
    w.denied(
        None,
        UPDATE,
        tenant("#111111"),
        "branding.update",
        "UNAUTHENTICATED",
    )
    .await;
    // The partner's staff member may not change the partner's branding; a tenant admin
    // sees the partner (as a customer) but may not either.
    w.denied(
        Some("pstaff"),
        UPDATE,
        partner.clone(),
        "branding.update",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("tadmin"),
        UPDATE,
        partner.clone(),
        "branding.update",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("outsider"),
        UPDATE,
        partner.clone(),
        "branding.update",
        "NOT_FOUND",
    )
    .await;
    // Allowed: tenant admin, the partner's staff (for its tenant), partner admin, operator.
    w.allowed("tadmin", UPDATE, tenant("#111111"), "branding.update")
        .await;
    w.allowed("pstaff", UPDATE, tenant("#222222"), "branding.update")
        .await;
    w.allowed("padmin", UPDATE, partner.clone(), "branding.update")
        .await;
    w.allowed("root", UPDATE, tenant("#333333"), "branding.update")
        .await;
    w.allowed("root", UPDATE, partner, "branding.update").await;
    // The partner's own branding is staff-only; its effective branding is public to
    // those who see the partner.
    let q =
        r#"{ tenant(slug: "acme") { partner { effectiveBranding { productName { value } } } } }"#;
    let body = w.query("tmember", q).await;
    assert_eq!(
        body["data"]["tenant"]["partner"]["effectiveBranding"]["productName"]["value"], "X",
        "{body}"
    );
    let q = r#"{ tenant(slug: "acme") { partner { branding { productName } } } }"#;
    let body = w.query("tmember", q).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let body = w.query("pstaff", q).await;
    assert_eq!(
        body["data"]["tenant"]["partner"]["branding"]["productName"], "X",
        "{body}"
    );
}
