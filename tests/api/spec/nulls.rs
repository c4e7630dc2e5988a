//! Field errors (§6.4.4): a nullable field that fails is `null` (the key is there) with one
//! error for its path; a non-null field that fails makes its nearest nullable parent `null`
//! — up to `data` itself — and is never answered with `null` in its own place. Lookups by
//! key (`tenant`, `partner`, `featureFlag`, `node`) are nullable: `null` plus `NOT_FOUND`.

use serde_json::json;

use super::{global_id, raw, raw_with, same, world};

const BILLING: &str = r#"{"message":"billing is visible to tenant admins only","locations":[{"line":1,"column":COL}],"path":[PATH],"extensions":{"code":"FORBIDDEN"}}"#;

fn billing(column: usize, path: &str) -> String {
    BILLING
        .replace("COL", &column.to_string())
        .replace("PATH", path)
}

#[tokio::test]
async fn a_forbidden_nullable_field_is_null_next_to_its_siblings() {
    let w = world().await;
    let query = r#"{ tenant(slug: "acme") { slug subscription { status } } }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{}],"data":{{"tenant":{{"slug":"acme","subscription":null}}}}}}"#,
            billing(31, r#""tenant","subscription""#)
        ),
    );
}

#[tokio::test]
async fn an_object_whose_only_field_failed_is_still_there() {
    let w = world().await;
    // Was `{"tenant":null}` although the tenant is visible: now the tenant with its `null`.
    let query = r#"{ tenant(slug: "acme") { subscription { status } } }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{}],"data":{{"tenant":{{"subscription":null}}}}}}"#,
            billing(26, r#""tenant","subscription""#)
        ),
    );
}

#[tokio::test]
async fn every_item_of_a_list_gets_its_null_and_its_own_error() {
    let w = world().await;
    let query = r#"{ tenant(slug: "acme") { provisioning { steps { step lastError status } } } }"#;
    let error = |i: usize| {
        format!(
            r#"{{"message":"visible to operators and the tenant's partner only","locations":[{{"line":1,"column":54}}],"path":["tenant","provisioning","steps",{i},"lastError"],"extensions":{{"code":"FORBIDDEN"}}}}"#
        )
    };
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{},{}],"data":{{"tenant":{{"provisioning":{{"steps":[{{"step":"AUTHENTIK_GROUP","lastError":null,"status":"ERROR"}},{{"step":"STALWART_DOMAIN","lastError":null,"status":"ERROR"}}]}}}}}}}}"#,
            error(0),
            error(1)
        ),
    );
}

#[tokio::test]
async fn an_unknown_key_is_a_null_lookup_with_not_found_and_the_rest_answers() {
    let w = world().await;
    let query = r#"{ tenant(slug: "zzz") { slug } apiVersion }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{{"message":"tenant not found","locations":[{{"line":1,"column":3}}],"path":["tenant"],"extensions":{{"code":"NOT_FOUND"}}}}],"data":{{"tenant":null,"apiVersion":"{}"}}}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    );
    // Every lookup by key behaves the same.
    let query = r#"{ partner(slug: "zzz") { slug } featureFlag(key: "zzz") { key } node(id: "VGVuYW50OjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA==") { id } }"#;
    let body = raw(&w.app, Some(&w.root), query).await;
    assert!(
        body.ends_with(r#""data":{"partner":null,"featureFlag":null,"node":null}}"#),
        "{body}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let codes: Vec<_> = parsed["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"][0].as_str().unwrap(),
                e["extensions"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("partner", "NOT_FOUND"),
            ("featureFlag", "NOT_FOUND"),
            ("node", "NOT_FOUND")
        ]
    );
}

#[tokio::test]
async fn a_failed_non_null_field_nulls_its_nullable_parent() {
    let w = world().await;
    // `marginPct` is `Float!`: its error makes `partner` (nullable) null, not `marginPct`.
    let query = r#"{ tenant(slug: "acme") { slug partner { slug marginPct } } }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        r#"{"errors":[{"message":"visible to the partner's staff only","locations":[{"line":1,"column":46}],"path":["tenant","partner","marginPct"],"extensions":{"code":"FORBIDDEN"}}],"data":{"tenant":{"slug":"acme","partner":null}}}"#,
    );
}

#[tokio::test]
async fn propagation_stops_at_the_nullable_lookup() {
    let w = world().await;
    // `members` is `MemberConnection!`; the tenant lookup is the nearest nullable parent.
    let query =
        r#"{ tenant(slug: "acme") { slug members(first: 101) { totalCount } } apiVersion }"#;
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(
            r#"{{"errors":[{{"message":"`first` must be at most 100","locations":[{{"line":1,"column":31}}],"path":["tenant","members"],"extensions":{{"code":"BAD_USER_INPUT","field":"first"}}}}],"data":{{"tenant":null,"apiVersion":"{}"}}}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    );
}

#[tokio::test]
async fn through_lists_of_non_null_items_up_to_data() {
    let w = world().await;
    // tenants: TenantConnection! in [Partner!]! in PartnerConnection! in partners: …! —
    // nothing nullable on the way, so `data` is null; each item's error is reported.
    let query = r#"{ partners(first: 5) { nodes { slug tenants(first: 101) { totalCount } } } }"#;
    let error = |i: usize| {
        format!(
            r#"{{"message":"`first` must be at most 100","locations":[{{"line":1,"column":37}}],"path":["partners","nodes",{i},"tenants"],"extensions":{{"code":"BAD_USER_INPUT","field":"first"}}}}"#
        )
    };
    same(
        &raw(&w.app, Some(&w.root), query).await,
        &format!(r#"{{"errors":[{},{}],"data":null}}"#, error(0), error(1)),
    );
}

#[tokio::test]
async fn nullable_list_items_take_the_null_themselves() {
    let w = world().await;
    let acme = global_id(&w.app, &w.root, "acme").await;
    let globex = global_id(&w.app, &w.root, "globex").await;
    // `nodes` is `[Node]!`: a failed item is `null` in its place, the list stays.
    let query = r#"query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Tenant { members(first: 101) { totalCount } } } }"#;
    let error = |i: usize| {
        format!(
            r#"{{"message":"`first` must be at most 100","locations":[{{"line":1,"column":61}}],"path":["nodes",{i},"members"],"extensions":{{"code":"BAD_USER_INPUT","field":"first"}}}}"#
        )
    };
    same(
        &raw_with(
            &w.app,
            Some(&w.root),
            query,
            json!({ "ids": [acme, globex] }),
        )
        .await,
        &format!(
            r#"{{"errors":[{},{}],"data":{{"nodes":[null,null]}}}}"#,
            error(0),
            error(1)
        ),
    );
}

#[tokio::test]
async fn batched_loader_results_fail_per_item() {
    let w = world().await;
    // Both subscriptions come from one batched statement; each item gets its own null.
    let query = r#"{ tenants(first: 10) { nodes { slug subscription { plan { key } } } } }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{},{}],"data":{{"tenants":{{"nodes":[{{"slug":"acme","subscription":null}},{{"slug":"globex","subscription":null}}]}}}}}}"#,
            billing(37, r#""tenants","nodes",0,"subscription""#),
            billing(37, r#""tenants","nodes",1,"subscription""#)
        ),
    );
}

#[tokio::test]
async fn errors_inside_fragments_inline_fragments_and_aliases() {
    let w = world().await;
    let query = r#"{ a: tenant(slug: "acme") { ...T } b: tenant(slug: "acme") { ... on Tenant { bill: subscription { plan { key } } } slug } } fragment T on Tenant { slug subscription { plan { key } } }"#;
    same(
        &raw(&w.app, Some(&w.bob), query).await,
        &format!(
            r#"{{"errors":[{},{}],"data":{{"a":{{"slug":"acme","subscription":null}},"b":{{"bill":null,"slug":"acme"}}}}}}"#,
            billing(78, r#""b","bill""#),
            billing(153, r#""a","subscription""#)
        ),
    );
}

#[tokio::test]
async fn an_anonymous_mutation_is_refused_with_data_null() {
    let w = world().await;
    // The payload is non-null: the refusal propagates to `data`.
    let query = r#"mutation { suspendTenant(input: { tenant: "acme" }) { tenant { status } } }"#;
    same(
        &raw(&w.app, None, query).await,
        r#"{"errors":[{"message":"authentication required","locations":[{"line":1,"column":12}],"path":["suspendTenant"],"extensions":{"code":"UNAUTHENTICATED"}}],"data":null}"#,
    );
}
