//! Statement counts: billing reads cost the same for 5 and for 50 partners or tenants
//! (per-request DataLoaders, one statement per key type and page shape).

use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::support::World;

const PARTNERS: &str = r#"
query($first: Int!, $period: BillingPeriodInput!) {
  partners(first: $first) { nodes { slug billingSummary(period: $period) { revenue { amountMinor currency } } } }
}"#;

const TENANTS: &str = r#"
query($first: Int!) {
  tenants(first: $first) { nodes { slug subscription { price { amountMinor } } invoices(first: 5) { nodes { number } } } }
}"#;

#[tokio::test]
async fn billing_reads_cost_the_same_for_5_and_50() {
    let w = World::new().operator("root").bulk(50, 1, 0).spawn().await;
    let mut conn = w.db.connect().await;
    // Two invoices and a paid ledger entry for every tenant.
    for sql in [
        "INSERT INTO invoices (stripe_invoice_id, tenant_id, number, status, currency, total_minor,
                               amount_due_minor, amount_paid_minor, stripe_created, stripe_synced_at)
         SELECT 'in_' || replace(t.slug, '-', '_') || '_' || n, t.id, t.slug || '-' || n,
                CASE n WHEN 1 THEN 'paid' ELSE 'open' END, 'EUR', 1000, 1000 * (n - 1),
                CASE n WHEN 1 THEN 1000 ELSE 0 END, now() - n * interval '1 hour', now()
           FROM tenants t CROSS JOIN generate_series(1, 2) n",
        "INSERT INTO payout_entries (source_id, kind, stripe_invoice_id, tenant_id, partner_id,
                                     currency, revenue_minor, margin_bp, partner_cut_minor,
                                     occurred_at, stripe_event_id)
         SELECT 'in_' || replace(t.slug, '-', '_') || '_1', 'invoice_paid',
                'in_' || replace(t.slug, '-', '_') || '_1', t.id, t.partner_id, 'EUR', 1000, 1000,
                100, now() - interval '1 hour', 'evt_' || replace(t.slug, '-', '_')
           FROM tenants t",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    let period = {
        let from = chrono::Utc::now() - chrono::Duration::days(1);
        let to = chrono::Utc::now() + chrono::Duration::days(1);
        json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() })
    };
    let mut costs = Vec::new();
    for first in [5, 50] {
        let before = w.statements();
        let body = w
            .query_with(
                "root",
                PARTNERS,
                json!({ "first": first, "period": period }),
            )
            .await;
        let partners_cost = w.statements() - before;
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["partners"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), first as usize);
        assert!(
            nodes.iter().all(|n| n["billingSummary"]["revenue"]
                == json!([{ "amountMinor": 1000, "currency": "EUR" }])),
            "{body}"
        );

        let before = w.statements();
        let body = w
            .query_with("root", TENANTS, json!({ "first": first }))
            .await;
        let tenants_cost = w.statements() - before;
        assert!(body.get("errors").is_none(), "{body}");
        let nodes = body["data"]["tenants"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), first as usize);
        assert!(
            nodes
                .iter()
                .all(|n| n["invoices"]["nodes"].as_array().unwrap().len() == 2
                    && n["subscription"]["price"]["amountMinor"] == 1000)
        );
        costs.push((partners_cost, tenants_cost));
    }
    assert_eq!(costs[0], costs[1], "statements for 5 and for 50: {costs:?}");
}
