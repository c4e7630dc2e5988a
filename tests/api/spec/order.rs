//! Keys in the order of the selection set (§7.1, CollectFields), never in the order the
//! resolvers finished or alphabetically.

use super::{raw, same, world};

#[tokio::test]
async fn root_fields_keep_the_order_asked_both_ways() {
    let w = world().await;
    let version = env!("CARGO_PKG_VERSION");
    let schema: serde_json::Value =
        serde_json::from_str(&raw(&w.app, None, "{ schemaVersion }").await).unwrap();
    let schema = schema["data"]["schemaVersion"].as_str().unwrap().to_owned();
    same(
        &raw(&w.app, None, "{ schemaVersion apiVersion }").await,
        &format!(r#"{{"data":{{"schemaVersion":"{schema}","apiVersion":"{version}"}}}}"#),
    );
    same(
        &raw(&w.app, None, "{ apiVersion schemaVersion }").await,
        &format!(r#"{{"data":{{"apiVersion":"{version}","schemaVersion":"{schema}"}}}}"#),
    );
}

#[tokio::test]
async fn merged_root_objects_answer_in_document_order() {
    let w = world().await;
    // `tenants`, `partner`, `me` and `apiVersion` come from four different root parts.
    let query = r#"{ tenants(first: 1) { totalCount } apiVersion partner(slug: "p-one") { slug } me { audience } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"data":{{"tenants":{{"totalCount":2}},"apiVersion":"{}","partner":{{"slug":"p-one"}},"me":{{"audience":"OPERATOR"}}}}}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    );
}

#[tokio::test]
async fn aliases_keep_their_order_and_names() {
    let w = world().await;
    let query = r#"{ z: tenant(slug: "globex") { b: slug a: name } a: tenant(slug: "acme") { status slug } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        r#"{"data":{"z":{"b":"globex","a":"globex"},"a":{"status":"PENDING","slug":"acme"}}}"#,
    );
}

#[tokio::test]
async fn fragments_merge_at_the_first_occurrence_of_each_key() {
    let w = world().await;
    // CollectFields: `tenant` first appears through the fragment; its selections merge in
    // order `name`, `status`, `slug`; `apiVersion` comes after.
    let query = r#"query { ...Q apiVersion tenant(slug: "acme") { status ... on Tenant { slug name } slug } } fragment Q on Query { tenant(slug: "acme") { name } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"data":{{"tenant":{{"name":"acme","status":"PENDING","slug":"acme"}},"apiVersion":"{}"}}}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    );
}

#[tokio::test]
async fn nested_lists_keep_item_and_key_order() {
    let w = world().await;
    let query = r#"{ partners(first: 5) { nodes { status slug } totalCount } }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        r#"{"data":{"partners":{"nodes":[{"status":"ACTIVE","slug":"p-one"},{"status":"ACTIVE","slug":"p-two"}],"totalCount":2}}}"#,
    );
}
