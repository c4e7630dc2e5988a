//! `partner_tenant_counts`, behind `Partner.customerCount` and `tenantCount`, is kept by
//! triggers on `tenants`: after any sequence of tenant changes it equals a count made here, in
//! Rust, from the tenants themselves with the tenants area's notion of a customer.

use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform_api::domain::tenants::TenantStatus;
use serde_json::json;
use uuid::Uuid;

use crate::support::{Tenant, World};

/// Per partner: (tenants, customers).
type Counts = BTreeMap<Uuid, (i64, i64)>;

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = SqlUuid)]
    partner_id: Uuid,
    #[diesel(sql_type = BigInt)]
    tenants: i64,
    #[diesel(sql_type = BigInt)]
    customers: i64,
}

#[derive(QueryableByName)]
struct TenantRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    status: String,
}

/// What the triggers kept (partners whose counts fell to zero keep a row of zeros).
async fn kept(conn: &mut AsyncPgConnection) -> Counts {
    let rows: Vec<CountRow> = diesel::sql_query(
        "SELECT partner_id, tenants, customers FROM partner_tenant_counts WHERE tenants > 0",
    )
    .load(conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| (r.partner_id, (r.tenants, r.customers)))
        .collect()
}

/// The same counts from the tenants.
async fn expected(conn: &mut AsyncPgConnection) -> Counts {
    let rows: Vec<TenantRow> = diesel::sql_query("SELECT partner_id, status FROM tenants")
        .load(conn)
        .await
        .unwrap();
    let mut out = Counts::new();
    for r in rows {
        let Some(partner) = r.partner_id else {
            continue;
        };
        let entry = out.entry(partner).or_default();
        entry.0 += 1;
        if TenantStatus::parse(&r.status).unwrap() != TenantStatus::Terminated {
            entry.1 += 1;
        }
    }
    out
}

#[tokio::test]
async fn partner_counts_follow_every_change_of_the_tenants() {
    let w = World::new()
        .partner("one")
        .partner("two")
        .partner("three")
        .tenant(Tenant::of("ant", "one"))
        .tenant(Tenant::of("bee", "two"))
        .tenant(Tenant::new("cat"))
        .operator("root")
        .spawn()
        .await;
    let mut conn = w.db.connect().await;
    let statuses: Vec<&str> = TenantStatus::ALL.iter().map(|s| s.as_str()).collect();
    let partners = ["one", "two", "three"];
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut below = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut created = 0;
    for step in 0..200 {
        let slug = ["ant", "bee", "cat", "dog", "elk", "fox"][below(6)];
        let partner = match below(4) {
            3 => "NULL".to_string(),
            i => format!("(SELECT id FROM partners WHERE slug = '{}')", partners[i]),
        };
        let sql = match below(5) {
            0 => {
                created += 1;
                format!(
                    "INSERT INTO tenants (slug, name, plan, partner_id, status)
                     VALUES ('{slug}', 'T', 'standard', {partner}, '{}')
                     ON CONFLICT (slug) DO NOTHING",
                    statuses[below(statuses.len())]
                )
            }
            1 => format!(
                "UPDATE tenants SET status = '{}' WHERE slug = '{slug}'",
                statuses[below(statuses.len())]
            ),
            2 => format!("UPDATE tenants SET partner_id = {partner} WHERE slug = '{slug}'"),
            // Nothing that changes a count: the counts must not move.
            3 => format!("UPDATE tenants SET name = 'Renamed' WHERE slug = '{slug}'"),
            _ => format!("DELETE FROM tenants WHERE slug = '{slug}'"),
        };
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(
            kept(&mut conn).await,
            expected(&mut conn).await,
            "after step {step}: {sql}"
        );
    }
    assert!(created > 20, "the sequence created only {created} tenants");

    // The graph reads the kept counts: every partner's customerCount and tenant total.
    let body = w
        .query_with(
            "root",
            "{ partners(first: 10) { nodes { slug customerCount tenants(first: 1) { totalCount } } } }",
            json!({}),
        )
        .await;
    let counts = expected(&mut conn).await;
    let nodes = body["data"]["partners"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{body}");
    for node in nodes {
        let id = w.id(node["slug"].as_str().unwrap());
        let (tenants, customers) = counts.get(&id).copied().unwrap_or_default();
        assert_eq!(node["tenants"]["totalCount"], tenants, "{body}");
        assert_eq!(node["customerCount"], customers, "{body}");
    }
}
