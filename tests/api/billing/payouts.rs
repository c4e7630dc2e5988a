//! The payout ledger fed by the webhook: an entry per paid invoice (the partner's cut by the
//! one rounding rule, in 0-, 2- and 3-decimal currencies), credit notes and voids take back
//! their part, a replay adds nothing; `Partner.payouts`, `Partner.billingSummary` and
//! `platformBillingSummary` equal the ledger's sums.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::stripe_app;
use super::webhook::{NEW_SECRET, deliver, now, settled, signature};
use crate::support::fakes;
use crate::support::{Level, Tenant, World};

fn paid(event: &str, invoice: &str, customer: &str, currency: &str, amount: i64) -> String {
    let t = now();
    json!({ "id": event, "object": "event", "type": "invoice.paid", "created": t,
        "livemode": false, "data": { "object": {
            "id": invoice, "object": "invoice", "customer": customer, "status": "paid",
            "number": format!("N-{invoice}"), "currency": currency, "total": amount,
            "amount_due": amount, "amount_paid": amount, "created": t - 60,
            "period_start": t - 86_400, "period_end": t, "due_date": null,
            "hosted_invoice_url": null, "invoice_pdf": null } } })
    .to_string()
}

fn voided(event: &str, invoice: &str, customer: &str, currency: &str, amount: i64) -> String {
    let t = now();
    json!({ "id": event, "object": "event", "type": "invoice.voided", "created": t,
        "livemode": false, "data": { "object": {
            "id": invoice, "object": "invoice", "customer": customer, "status": "void",
            "number": format!("N-{invoice}"), "currency": currency, "total": amount,
            "amount_due": 0, "amount_paid": amount, "created": t - 60,
            "period_start": t - 86_400, "period_end": t, "due_date": null,
            "hosted_invoice_url": null, "invoice_pdf": null } } })
    .to_string()
}

fn credit_note(event: &str, note: &str, invoice: &str, currency: &str, total: i64) -> String {
    json!({ "id": event, "object": "event", "type": "credit_note.created", "created": now(),
        "livemode": false, "data": { "object": {
            "id": note, "object": "credit_note", "invoice": invoice, "currency": currency,
            "total": total, "amount": total, "status": "issued" } } })
    .to_string()
}

const SUMMARY: &str = r#"
query($partner: String!, $period: BillingPeriodInput!) {
  partner(slug: $partner) {
    billingConfigured
    billingSummary(period: $period) {
      configured
      revenue { amountMinor currency }
      partnerCut { amountMinor currency }
      net { amountMinor currency }
    }
    payouts(first: 10) { totalCount nodes { kind stripeInvoiceId marginPct
      revenue { amountMinor currency } partnerCut { amountMinor currency } } }
  }
}"#;

const PLATFORM: &str = r#"
query($period: BillingPeriodInput!) {
  platformBillingSummary(period: $period) {
    configured
    revenue { amountMinor currency }
    partnerCut { amountMinor currency }
    net { amountMinor currency }
    openInvoices { count amountDue { amountMinor currency } }
  }
}"#;

#[derive(QueryableByName, Debug, PartialEq)]
struct Sums {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    revenue: i64,
    #[diesel(sql_type = BigInt)]
    cut: i64,
}

fn money(list: &[(i64, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(m, c)| json!({ "amountMinor": m, "currency": c }))
            .collect(),
    )
}

#[tokio::test]
async fn paid_invoices_credit_notes_and_voids_make_the_ledger_and_its_summaries() {
    let stripe = fakes::stripe::spawn().await;
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell").stripe_customer("cus_acme"))
        .tenant(Tenant::new("solo").stripe_customer("cus_solo"))
        .staff("sue", "resell", Level::Member)
        .operator("root")
        .build(stripe_app(&stripe).await)
        .await;
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE partners SET margin_pct = 12.5 WHERE slug = 'resell'")
        .execute(&mut conn)
        .await
        .unwrap();

    let payments = [
        paid("evt_p1", "in_eur", "cus_acme", "eur", 9999),
        paid("evt_p2", "in_jpy", "cus_acme", "jpy", 1001),
        paid("evt_p3", "in_kwd", "cus_acme", "kwd", 5124),
        paid("evt_p4", "in_solo", "cus_solo", "eur", 5000),
    ];
    let takebacks = [
        credit_note("evt_c1", "cn_1", "in_eur", "eur", 3333),
        voided("evt_v1", "in_jpy", "cus_acme", "jpy", 1001),
        // A credit note on an invoice never paid moves nothing.
        credit_note("evt_c2", "cn_2", "in_unknown", "eur", 100),
    ];
    for batch in [&payments[..], &takebacks[..]] {
        for body in batch {
            let header = signature(body, now(), &[NEW_SECRET]);
            let (status, reply) = deliver(&w, body, Some(&header)).await;
            assert_eq!(status, 200, "{reply}");
        }
        settled(&w).await;
    }
    // Replays (new event ids for the same credit note and void) add nothing.
    for body in [
        credit_note("evt_c1b", "cn_1", "in_eur", "eur", 3333),
        voided("evt_v1b", "in_jpy", "cus_acme", "jpy", 1001),
    ] {
        deliver(&w, &body, Some(&signature(&body, now(), &[NEW_SECRET]))).await;
    }
    settled(&w).await;

    // The ledger: EUR 99.99 paid at 12.5 % → 12.50 (12.49875 rounded); 33.33 credited →
    // the cut of what is left (66.66 → 8.3325 → 8.33): −4.17. JPY 1001 → 125 (not 1.25),
    // voided → −125. KWD 5.124 → 0.641 (640.5 fils, half away from zero). solo: margin 0.
    let entries: Vec<(String, String, i64, i64)> = {
        #[derive(QueryableByName)]
        struct E {
            #[diesel(sql_type = Text)]
            source_id: String,
            #[diesel(sql_type = Text)]
            kind: String,
            #[diesel(sql_type = BigInt)]
            revenue_minor: i64,
            #[diesel(sql_type = BigInt)]
            partner_cut_minor: i64,
        }
        diesel::sql_query(
            "SELECT source_id, kind, revenue_minor, partner_cut_minor FROM payout_entries ORDER BY id",
        )
        .load::<E>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.source_id, e.kind, e.revenue_minor, e.partner_cut_minor))
        .collect()
    };
    let mut sorted = entries.clone();
    sorted.sort();
    let expected = |s: &str, k: &str, r: i64, c: i64| (s.to_owned(), k.to_owned(), r, c);
    assert_eq!(
        sorted,
        vec![
            expected("cn_1", "credit_note", -3333, -417),
            expected("in_eur", "invoice_paid", 9999, 1250),
            expected("in_jpy", "invoice_paid", 1001, 125),
            expected("in_kwd", "invoice_paid", 5124, 641),
            expected("in_solo", "invoice_paid", 5000, 0),
            expected("void:in_jpy", "invoice_voided", -1001, -125),
        ]
    );

    let period = json!({ "from": "2020-01-01T00:00:00Z", "to": "2020-12-31T00:00:00Z" });
    let now_period = {
        let from = chrono::Utc::now() - chrono::Duration::days(1);
        let to = chrono::Utc::now() + chrono::Duration::days(1);
        json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() })
    };
    let body = w
        .query_with(
            "sue",
            SUMMARY,
            json!({ "partner": "resell", "period": now_period }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let partner = &body["data"]["partner"];
    assert_eq!(partner["billingConfigured"], true);
    let summary = &partner["billingSummary"];
    assert_eq!(summary["configured"], true);
    assert_eq!(
        summary["revenue"],
        money(&[(6666, "EUR"), (0, "JPY"), (5124, "KWD")])
    );
    assert_eq!(
        summary["partnerCut"],
        money(&[(833, "EUR"), (0, "JPY"), (641, "KWD")])
    );
    assert_eq!(
        summary["net"],
        money(&[(5833, "EUR"), (0, "JPY"), (4483, "KWD")])
    );
    assert_eq!(partner["payouts"]["totalCount"], 5);
    assert_eq!(partner["payouts"]["nodes"][0]["marginPct"], 12.5);

    // The summaries equal the ledger's sums.
    let sums: Vec<Sums> = diesel::sql_query(
        "SELECT currency, SUM(revenue_minor)::bigint AS revenue, SUM(partner_cut_minor)::bigint AS cut
           FROM payout_entries WHERE partner_id IS NOT NULL GROUP BY currency ORDER BY currency",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let from_ledger: Vec<Value> = sums
        .iter()
        .map(|s| json!({ "amountMinor": s.revenue, "currency": s.currency }))
        .collect();
    assert_eq!(summary["revenue"], Value::Array(from_ledger));
    let cuts: Vec<Value> = sums
        .iter()
        .map(|s| json!({ "amountMinor": s.cut, "currency": s.currency }))
        .collect();
    assert_eq!(summary["partnerCut"], Value::Array(cuts));

    // The platform: every tenant (solo too), operators only.
    let body = w
        .query_with("root", PLATFORM, json!({ "period": now_period }))
        .await;
    let platform = &body["data"]["platformBillingSummary"];
    assert_eq!(
        platform["revenue"],
        money(&[(11_666, "EUR"), (0, "JPY"), (5124, "KWD")])
    );
    assert_eq!(
        platform["partnerCut"],
        money(&[(833, "EUR"), (0, "JPY"), (641, "KWD")])
    );
    let denied = w
        .query_with("sue", PLATFORM, json!({ "period": now_period }))
        .await;
    assert!(denied["errors"][0].is_object(), "operators only: {denied}");
    assert!(denied["data"].is_null() || denied["data"]["platformBillingSummary"].is_null());

    // Another period holds nothing; a backwards period is refused.
    let body = w
        .query_with(
            "sue",
            SUMMARY,
            json!({ "partner": "resell", "period": period }),
        )
        .await;
    assert_eq!(
        body["data"]["partner"]["billingSummary"]["revenue"],
        json!([])
    );
    let backwards = json!({ "from": "2021-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z" });
    let body = w
        .query_with(
            "sue",
            SUMMARY,
            json!({ "partner": "resell", "period": backwards }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "period.to");
}
