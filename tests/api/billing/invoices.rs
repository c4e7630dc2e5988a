//! Invoices: fed by `invoice.*` webhook events (out of order: the final state is right),
//! backfilled from Stripe's list when provisioning runs again, shown as `Tenant.invoices`
//! (admins and up; members are refused).

use serde_json::{Value, json};

use super::webhook::{NEW_SECRET, deliver, now, settled, signature, world};
use crate::support::Role;
use crate::support::tables::count;

const INVOICES: &str = r#"
query($slug: String!, $first: Int, $after: String) {
  tenant(slug: $slug) {
    invoices(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { number status total { amountMinor currency } amountDue { amountMinor currency }
              periodStart periodEnd dueDate hostedUrl pdfUrl }
    }
  }
}"#;

fn invoice_event(event: &str, created: i64, kind: &str, invoice: &str, status: &str) -> String {
    json!({
        "id": event, "object": "event", "type": kind, "created": created, "livemode": false,
        "data": { "object": {
            "id": invoice, "object": "invoice", "customer": "cus_acme", "status": status,
            "number": if status == "draft" { Value::Null } else { json!(format!("N-{invoice}")) },
            "currency": "jpy", "total": 1500, "amount_due": if status == "paid" { 0 } else { 1500 },
            "amount_paid": if status == "paid" { 1500 } else { 0 }, "created": created - 100,
            "period_start": created - 86_400, "period_end": created, "due_date": null,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/{invoice}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/{invoice}/pdf"),
        }}
    })
    .to_string()
}

#[tokio::test]
async fn invoice_events_are_mirrored_and_never_move_back() {
    let mut w = world(1).await;
    w.arrange(
        crate::support::World::new()
            .member("mem", "acme", Role::Member)
            .member("adm", "acme", Role::Admin),
    )
    .await;
    let t = now();
    // Paid arrives before finalized (Stripe does not promise an order).
    for body in [
        invoice_event("evt_i1", t - 30, "invoice.created", "in_1", "draft"),
        invoice_event("evt_i3", t - 10, "invoice.paid", "in_1", "paid"),
        invoice_event("evt_i2", t - 20, "invoice.finalized", "in_1", "open"),
        invoice_event("evt_i4", t - 5, "invoice.finalized", "in_2", "open"),
    ] {
        let (status, _) = deliver(&w, &body, Some(&signature(&body, t, &[NEW_SECRET]))).await;
        assert_eq!(status, 200);
    }
    settled(&w).await;
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(&mut conn, "stripe_events WHERE status = 'stale'").await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'billing.invoice.sync'"
        )
        .await,
        3
    );
    let body = w
        .query_with("adm", INVOICES, json!({ "slug": "acme", "first": 1 }))
        .await;
    let page = &body["data"]["tenant"]["invoices"];
    assert_eq!(page["totalCount"], 2, "{body}");
    assert_eq!(page["nodes"][0]["number"], "N-in_2", "newest first");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let after = page["pageInfo"]["endCursor"].clone();
    let body = w
        .query_with(
            "adm",
            INVOICES,
            json!({ "slug": "acme", "first": 5, "after": after }),
        )
        .await;
    let node = &body["data"]["tenant"]["invoices"]["nodes"][0];
    assert_eq!(node["status"], "PAID", "the later event wins: {body}");
    assert_eq!(
        node["total"],
        json!({ "amountMinor": 1500, "currency": "JPY" })
    );
    assert_eq!(node["amountDue"]["amountMinor"], 0);
    assert_eq!(node["pdfUrl"], "https://pay.stripe.com/invoice/in_1/pdf");
    assert_eq!(
        body["data"]["tenant"]["invoices"]["pageInfo"]["hasNextPage"],
        false
    );

    let body = w
        .query_with("mem", INVOICES, json!({ "slug": "acme" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}
