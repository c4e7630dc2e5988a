//! Reading domains: the tenant's list, the node, who sees them, and the batched counts.

use serde_json::json;

use super::{code, domain_row};
use crate::support::{Level, Role, Tenant, World};

const DOMAINS: &str = r#"
query($slug: String!, $first: Int, $after: String) {
  tenant(slug: $slug) {
    domainsNeedingAttention
    domains(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id name unicodeName primary status lastCheckedAt nextCheckAt dmarcPolicy
        expectedRecords { type rrType name value }
        records { type name expected actual status reason }
        tenant { slug }
      }
    }
  }
}"#;

const NODE: &str = r#"
query($id: ID!) { node(id: $id) { id ... on Domain { name tenant { slug } } } }"#;

async fn world() -> World {
    World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("other")
        .member("member", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .member("outsider", "other", Role::Owner)
        .spawn()
        .await
}

#[tokio::test]
async fn a_tenants_domains_page_by_name_with_their_records() {
    let w = world().await;
    domain_row(&w, "acme", "b.example", "failing", None).await;
    domain_row(&w, "acme", "a.example", "verified", None).await;
    domain_row(
        &w,
        "acme",
        "xn--bcher-kva.example",
        "pending_verification",
        None,
    )
    .await;
    domain_row(&w, "other", "c.example", "degraded", None).await;

    let body = w
        .query_with("member", DOMAINS, json!({ "slug": "acme", "first": 2 }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let tenant = &body["data"]["tenant"];
    assert_eq!(tenant["domainsNeedingAttention"], 2, "failing + pending");
    let page = &tenant["domains"];
    assert_eq!(page["totalCount"], 3);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let nodes = page["nodes"].as_array().unwrap();
    let names: Vec<_> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.example", "b.example"]);
    assert_eq!(nodes[0]["status"], "VERIFIED");
    assert_eq!(nodes[1]["status"], "FAILING");
    assert_eq!(nodes[0]["tenant"]["slug"], "acme");
    assert_eq!(nodes[0]["dmarcPolicy"], "NONE");
    // Not provisioned yet: only DMARC and the ownership token are known.
    let expected = nodes[0]["expectedRecords"].as_array().unwrap();
    assert_eq!(expected.len(), 2, "{expected:?}");
    assert_eq!(
        expected[0],
        json!({ "type": "DMARC", "rrType": "TXT", "name": "_dmarc.a.example", "value": "v=DMARC1; p=none" })
    );
    assert_eq!(expected[1]["type"], "OWNERSHIP");
    assert!(
        expected[1]["value"]
            .as_str()
            .unwrap()
            .starts_with("dezky-verification=")
    );
    // Never checked: every record UNKNOWN, saying so.
    for record in nodes[0]["records"].as_array().unwrap() {
        assert_eq!(record["status"], "UNKNOWN");
        assert_eq!(record["reason"], "not checked yet");
        assert!(record["actual"].is_null());
    }
    assert!(nodes[0]["lastCheckedAt"].is_null());

    let cursor = page["pageInfo"]["endCursor"].clone();
    let body = w
        .query_with(
            "member",
            DOMAINS,
            json!({ "slug": "acme", "first": 2, "after": cursor }),
        )
        .await;
    let rest = &body["data"]["tenant"]["domains"]["nodes"];
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["name"], "xn--bcher-kva.example");
    assert_eq!(rest[0]["unicodeName"], "bücher.example");
}

#[tokio::test]
async fn a_domain_is_seen_by_whoever_sees_its_tenant() {
    let w = world().await;
    let id = domain_row(&w, "acme", "a.example", "verified", None).await;
    let body = w
        .query_with("member", DOMAINS, json!({ "slug": "acme" }))
        .await;
    let global = body["data"]["tenant"]["domains"]["nodes"][0]["id"].clone();
    assert!(global.is_string(), "{body}");
    for who in ["member", "pstaff"] {
        let body = w.query_with(who, NODE, json!({ "id": global })).await;
        assert_eq!(body["data"]["node"]["name"], "a.example", "{who}: {body}");
        assert_eq!(body["data"]["node"]["tenant"]["slug"], "acme");
    }
    // A member of another tenant: exactly like a domain that does not exist.
    let body = w
        .query_with("outsider", NODE, json!({ "id": global }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let mut conn = w.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("DELETE FROM domains WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(id),
        &mut conn,
    )
    .await
    .unwrap();
    let body = w.query_with("member", NODE, json!({ "id": global })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    // Nor through the tenant.
    let body = w
        .query_with("outsider", DOMAINS, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
}

const DEEP: &str = r#"
{ tenants(first: 50) { nodes { slug domainsNeedingAttention domains(first: 10) { nodes { records { status } } } } } }"#;

#[tokio::test]
async fn attention_counts_and_domain_lists_cost_the_same_for_5_and_50_tenants() {
    let mut counts = vec![];
    for tenants in [5, 50] {
        let w = World::new()
            .operator("root")
            .bulk(1, tenants, 0)
            .spawn()
            .await;
        let mut conn = w.db.connect().await;
        // Two domains per tenant: one verified, one failing.
        diesel_async::RunQueryDsl::execute(
            diesel::sql_query(
                "INSERT INTO domains (tenant_id, name, status)
                 SELECT id, slug || s.suffix, s.status FROM tenants,
                        (VALUES ('.example', 'verified'), ('.test', 'failing')) s(suffix, status)",
            ),
            &mut conn,
        )
        .await
        .unwrap();
        let before = w.statements();
        let body = w.query("root", DEEP).await;
        let statements = w.statements() - before;
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["tenants"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), tenants as usize);
        for node in nodes {
            assert_eq!(node["domainsNeedingAttention"], 1, "{node}");
            assert_eq!(node["domains"]["nodes"].as_array().unwrap().len(), 2);
        }
        counts.push(statements);
    }
    assert_eq!(counts[0], counts[1], "independent of the number of tenants");
    assert!(counts[0] <= 4, "{} statements", counts[0]);
}
