//! Email templates: every key renders with its sample, invalid templates are refused with
//! the line (nothing written), HTML in variables is escaped, overrides inherit per key.

use serde_json::json;

use super::world;

const SAVE: &str = r#"
mutation($input: UpdateEmailTemplateInput!) {
  updateEmailTemplate(input: $input) { branding { emailTemplates { key subject body } } }
}"#;

const PREVIEW: &str = r#"
query($input: PreviewEmailTemplateInput!) {
  previewEmailTemplate(input: $input) { subject body }
}"#;

const KEYS: &str = r#"{ emailTemplateKeys { key variables { name sample } defaultSubject } }"#;

#[tokio::test]
async fn every_key_renders_with_its_documented_sample() {
    let w = world().await;
    let body = w.query("tmember", KEYS).await;
    let keys = body["data"]["emailTemplateKeys"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 5, "{body}");
    for key in keys {
        let name = key["key"].as_str().unwrap();
        let body = w
            .query_with("tmember", PREVIEW, json!({ "input": { "key": name } }))
            .await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        let rendered = &body["data"]["previewEmailTemplate"];
        assert!(
            !rendered["subject"].as_str().unwrap().contains("{{"),
            "{rendered}"
        );
        assert!(
            rendered["body"].as_str().unwrap().contains("Ada Lovelace"),
            "{name}: {rendered}"
        );
    }
}

#[tokio::test]
async fn unknown_variables_and_syntax_errors_are_refused_with_the_line() {
    let w = world().await;
    let save = |body: &str| json!({ "input": { "tenant": "acme", "key": "WELCOME", "subject": "Hi", "body": body } });
    w.invalid(
        "tadmin",
        SAVE,
        save("<p>Hello</p>\n<p>{{ api_key }}</p>"),
        "email_template.update",
        "input.body",
    )
    .await;
    let body = w
        .query_with("tadmin", SAVE, save("<p>Hello</p>\n<p>{{ api_key }}</p>"))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("api_key"),
        "{message}"
    );

    let broken = "<p>a</p>\n<p>b</p>\n{% if tenant_name %}<p>{{ tenant_name }</p>";
    w.invalid(
        "tadmin",
        SAVE,
        save(broken),
        "email_template.update",
        "input.body",
    )
    .await;
    let body = w.query_with("tadmin", SAVE, save(broken)).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("line 3") && message.contains("syntax"),
        "{message}"
    );

    w.invalid(
        "tadmin",
        SAVE,
        json!({ "input": { "tenant": "acme", "key": "INVOICE", "subject": "{{ nope }}", "body": "<p>x</p>" } }),
        "email_template.update",
        "input.subject",
    )
    .await;
    // A preview of a bad draft is refused the same way.
    let body = w
        .query_with(
            "tadmin",
            PREVIEW,
            json!({ "input": { "key": "WELCOME", "tenant": "acme", "subject": "Hi", "body": "{{ x }}" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.body");
    // A sample naming a variable the key lacks is refused too.
    let body = w
        .query_with(
            "tmember",
            PREVIEW,
            json!({ "input": { "key": "WELCOME", "sample": { "password": "x" } } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.sample.password",
        "{body}"
    );
}

#[tokio::test]
async fn html_in_variables_is_escaped() {
    let w = world().await;
    let body = w
        .query_with(
            "tmember",
            PREVIEW,
            json!({ "input": { "key": "WELCOME", "sample": { "recipient_name": "<img src=x onerror=alert(1)>" } } }),
        )
        .await;
    let html = body["data"]["previewEmailTemplate"]["body"]
        .as_str()
        .unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
}

#[tokio::test]
async fn overrides_inherit_per_key_and_reset() {
    let w = world().await;
    w.allowed(
        "padmin",
        SAVE,
        json!({ "input": { "partner": "resell", "key": "WELCOME",
                           "subject": "Welcome to {{ product_name }} by Resell",
                           "body": "<p>Hi {{ recipient_name }}</p>" } }),
        "email_template.update",
    )
    .await;
    w.allowed(
        "tadmin",
        SAVE,
        json!({ "input": { "tenant": "acme", "key": "INVOICE",
                           "subject": "Invoice {{ invoice_number }}",
                           "body": "<p>{{ amount }}</p>" } }),
        "email_template.update",
    )
    .await;
    let body = w
        .query_with("tmember", super::EFFECTIVE, json!({ "slug": "acme" }))
        .await;
    let templates = body["data"]["tenant"]["effectiveBranding"]["emailTemplates"]
        .as_array()
        .unwrap()
        .clone();
    let source = |key: &str| {
        templates
            .iter()
            .find(|t| t["key"] == key)
            .map(|t| t["source"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(source("WELCOME"), "PARTNER");
    assert_eq!(source("INVOICE"), "TENANT");
    assert_eq!(source("PASSWORD_RESET"), "DEFAULT");
    // The tenant's preview uses the partner's template and product name.
    w.allowed(
        "padmin",
        super::UPDATE,
        json!({ "input": { "partner": "resell", "productName": "Resell <Mail>" } }),
        "branding.update",
    )
    .await;
    let body = w
        .query_with(
            "tadmin",
            PREVIEW,
            json!({ "input": { "key": "WELCOME", "tenant": "acme" } }),
        )
        .await;
    assert_eq!(
        body["data"]["previewEmailTemplate"]["subject"], "Welcome to Resell <Mail> by Resell",
        "{body}"
    );
    // The audit row names the key, never the text.
    let audit = w
        .query(
            "root",
            r#"{ auditEvents(first: 1, filter: { action: "email_template.update" }) { nodes { details } } }"#,
        )
        .await;
    assert_eq!(
        audit["data"]["auditEvents"]["nodes"][0]["details"],
        json!({ "key": "invoice", "reset": false })
    );
    // Reset: the tenant's invoice template is inherited again.
    w.allowed(
        "tadmin",
        SAVE,
        json!({ "input": { "tenant": "acme", "key": "INVOICE" } }),
        "email_template.update",
    )
    .await;
    w.invalid(
        "tadmin",
        SAVE,
        json!({ "input": { "tenant": "acme", "key": "INVOICE" } }),
        "email_template.update",
        "input.key",
    )
    .await;
    // A member may not save; a stranger's tenant is not found.
    w.denied(
        Some("tmember"),
        SAVE,
        json!({ "input": { "tenant": "acme", "key": "INVOICE", "subject": "x", "body": "y" } }),
        "email_template.update",
        "FORBIDDEN",
    )
    .await;
}
