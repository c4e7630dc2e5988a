//! `POST /webhooks/stripe` with real signatures (the production signing code, as Stripe's
//! libraries compute them): valid, wrong secret, rotated secrets, old timestamp, malformed
//! header, replay, events out of order, unknown types, and no secret configured.

use std::time::Duration;

use platform_api::upstream::Secret;
use platform_api::upstream::stripe::webhook::sign;
use serde_json::{Value, json};

use crate::support::tables::count;
use crate::support::{Tenant, TestApp, World};

const OLD_SECRET: &str = "whsec_old_0123456789";
pub(super) const NEW_SECRET: &str = "whsec_new_9876543210";

pub(super) async fn world(workers: usize) -> World {
    let app = TestApp::spawn_with(|c| {
        c.upstreams.stripe_webhook_secret = Some(Secret::new(format!("{OLD_SECRET},{NEW_SECRET}")));
        c.jobs.workers = workers;
    })
    .await;
    World::new()
        .tenant(Tenant::new("acme").stripe_customer("cus_acme"))
        .operator("root")
        .build(app)
        .await
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `t=…,v1=…` over `body` with each secret.
pub(super) fn signature(body: &str, timestamp: i64, secrets: &[&str]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let v1 = sign(
            body.as_bytes(),
            &Secret::new((*secret).to_owned()),
            timestamp,
        );
        header.push_str(&format!(",v1={v1}"));
    }
    header
}

pub(super) async fn deliver(app: &TestApp, body: &str, header: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("Stripe-Signature", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn subscription_event(id: &str, created: i64, kind: &str, status: &str, seats: i64) -> String {
    json!({
        "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
        "data": { "object": {
            "id": "sub_acme", "object": "subscription", "customer": "cus_acme",
            "status": status, "cancel_at_period_end": false,
            "metadata": { "plan": "business" },
            "items": { "object": "list", "data": [{
                "quantity": seats, "current_period_end": created + 30 * 86_400,
                "price": { "unit_amount": 1200, "currency": "eur",
                           "recurring": { "interval": "month" } }
            }]}
        }}
    })
    .to_string()
}

async fn events(w: &World, filter: &str) -> i64 {
    let mut conn = w.db.connect().await;
    count(&mut conn, &format!("stripe_events WHERE {filter}")).await
}

/// Waits until no stored event is still `received` (the job applied them).
pub(super) async fn settled(w: &World) {
    for _ in 0..200 {
        if events(w, "status = 'received'").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("events were not applied in time");
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Sub {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    seats: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    price_minor: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    plan: String,
}

async fn subscription(w: &World) -> Option<Sub> {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query("SELECT status, seats, price_minor, plan FROM subscriptions")
        .load::<Sub>(&mut conn)
        .await
        .unwrap()
        .pop()
}

#[tokio::test]
async fn a_signed_event_is_stored_once_and_applied() {
    let w = world(1).await;
    let t = now();
    let body = subscription_event("evt_1", t, "customer.subscription.created", "active", 3);
    let (status, reply) = deliver(&w, &body, Some(&signature(&body, t, &[OLD_SECRET]))).await;
    assert_eq!(
        (status, &reply),
        (200, &json!({ "received": true, "duplicate": false }))
    );
    settled(&w).await;
    assert_eq!(
        subscription(&w).await,
        Some(Sub {
            status: "active".into(),
            seats: 3,
            price_minor: 3600,
            plan: "business".into()
        })
    );
    assert_eq!(events(&w, "id = 'evt_1' AND status = 'applied'").await, 1);
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'billing.subscription.sync' AND actor_user_id IS NULL
               AND details->>'event' = 'evt_1' AND tenant_id IS NOT NULL"
        )
        .await,
        1
    );

    // The same event again (Stripe retries): acknowledged, not stored or applied twice.
    let (status, reply) = deliver(&w, &body, Some(&signature(&body, now(), &[OLD_SECRET]))).await;
    assert_eq!(
        (status, &reply),
        (200, &json!({ "received": true, "duplicate": true }))
    );
    settled(&w).await;
    assert_eq!(events(&w, "TRUE").await, 1);
    assert_eq!(
        count(&mut conn, "jobs WHERE kind = 'stripe_event'").await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'billing.subscription.sync'"
        )
        .await,
        1,
        "no second effect"
    );
}

#[tokio::test]
async fn signatures_are_checked_and_refusals_store_nothing() {
    let w = world(0).await;
    let t = now();
    let body = subscription_event("evt_2", t, "customer.subscription.updated", "active", 2);
    let refused = [
        ("no header", None),
        (
            "wrong secret",
            Some(signature(&body, t, &["whsec_someone_else"])),
        ),
        (
            "old timestamp",
            Some(signature(&body, t - 3600, &[NEW_SECRET])),
        ),
        ("malformed header", Some("v1=abc,t=notanumber".to_owned())),
        (
            "signature of another body",
            Some(signature("{}", t, &[NEW_SECRET])),
        ),
    ];
    for (case, header) in refused {
        let (status, reply) = deliver(&w, &body, header.as_deref()).await;
        assert_eq!(status, 400, "{case}: {reply}");
        assert_eq!(
            reply["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{case}"
        );
    }
    assert_eq!(events(&w, "TRUE").await, 0, "nothing stored");

    // While a secret is rotated, either secret verifies, and so does a header with both.
    let (status, _) = deliver(&w, &body, Some(&signature(&body, t, &[NEW_SECRET]))).await;
    assert_eq!(status, 200);
    let other = subscription_event("evt_3", t, "customer.subscription.updated", "active", 2);
    let both = signature(&other, t, &["whsec_retired", NEW_SECRET]);
    assert_eq!(deliver(&w, &other, Some(&both)).await.0, 200);
    assert_eq!(events(&w, "TRUE").await, 2);

    // A verified body that is not an event.
    let junk = r#"{"hello":"world"}"#;
    let (status, _) = deliver(&w, junk, Some(&signature(junk, t, &[OLD_SECRET]))).await;
    assert_eq!(status, 400);
    assert_eq!(events(&w, "TRUE").await, 2);
}

#[tokio::test]
async fn events_out_of_order_never_move_state_back() {
    let w = world(1).await;
    let t = now();
    let newer = subscription_event("evt_new", t, "customer.subscription.updated", "past_due", 5);
    let older = subscription_event(
        "evt_old",
        t - 60,
        "customer.subscription.updated",
        "active",
        3,
    );
    for body in [&newer, &older] {
        assert_eq!(
            deliver(&w, body, Some(&signature(body, t, &[OLD_SECRET])))
                .await
                .0,
            200
        );
        settled(&w).await;
    }
    let sub = subscription(&w).await.unwrap();
    assert_eq!((sub.status.as_str(), sub.seats), ("past_due", 5));
    assert_eq!(events(&w, "id = 'evt_old' AND status = 'stale'").await, 1);

    // Cancellation arrives last and wins.
    let deleted = subscription_event(
        "evt_del",
        t + 5,
        "customer.subscription.deleted",
        "canceled",
        5,
    );
    assert_eq!(
        deliver(&w, &deleted, Some(&signature(&deleted, t, &[NEW_SECRET])))
            .await
            .0,
        200
    );
    settled(&w).await;
    assert_eq!(subscription(&w).await.unwrap().status, "canceled");
}

#[tokio::test]
async fn unknown_types_and_unknown_customers_are_stored_and_ignored() {
    let w = world(1).await;
    let t = now();
    let unknown = json!({
        "id": "evt_unknown", "type": "radar.early_fraud_warning.created", "created": t,
        "data": { "object": { "id": "issfr_1" } }
    })
    .to_string();
    let stranger = subscription_event(
        "evt_stranger",
        t,
        "customer.subscription.created",
        "active",
        1,
    )
    .replace("cus_acme", "cus_unknown");
    for body in [&unknown, &stranger] {
        assert_eq!(
            deliver(&w, body, Some(&signature(body, t, &[OLD_SECRET])))
                .await
                .0,
            200
        );
    }
    settled(&w).await;
    assert_eq!(events(&w, "status = 'ignored'").await, 2);
    assert_eq!(subscription(&w).await, None, "nothing mirrored");
}

#[tokio::test]
async fn no_client_secret_is_stored_or_logged() {
    let w = world(0).await;
    let t = now();
    let body = json!({
        "id": "evt_seti", "type": "setup_intent.succeeded", "created": t,
        "data": { "object": { "id": "seti_1", "object": "setup_intent",
                              "client_secret": "seti_1_secret_abcdef", "customer": "cus_acme" } }
    })
    .to_string();
    assert_eq!(
        deliver(&w, &body, Some(&signature(&body, t, &[OLD_SECRET])))
            .await
            .0,
        200
    );
    assert_eq!(
        events(
            &w,
            "id = 'evt_seti' AND payload->'data'->'object'->>'id' = 'seti_1'"
        )
        .await,
        1
    );
    assert_eq!(
        events(&w, "payload::text LIKE '%secret_abcdef%'").await,
        0,
        "the client secret is not stored"
    );
    assert!(
        crate::support::logs::lines_containing("secret_abcdef").is_empty(),
        "the client secret is in no log line"
    );
}

#[tokio::test]
async fn without_a_secret_the_endpoint_does_not_exist() {
    let app = TestApp::spawn().await;
    let body = subscription_event("evt_x", now(), "customer.subscription.created", "active", 1);
    let (status, _) = deliver(&app, &body, Some(&signature(&body, now(), &[OLD_SECRET]))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_paused_subscription_is_mirrored_as_paused() {
    let w = world(1).await;
    let t = now();
    let active = subscription_event(
        "evt_p1",
        t - 10,
        "customer.subscription.created",
        "active",
        2,
    );
    let paused = subscription_event("evt_p2", t, "customer.subscription.updated", "paused", 2);
    for body in [&active, &paused] {
        let (status, _) = deliver(&w, body, Some(&signature(body, t, &[NEW_SECRET]))).await;
        assert_eq!(status, 200);
    }
    settled(&w).await;
    assert_eq!(events(&w, "status = 'failed'").await, 0);
    assert_eq!(subscription(&w).await.unwrap().status, "paused");
    let body = w
        .query(
            "root",
            r#"{ tenant(slug: "acme") { subscription { status } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"]["subscription"]["status"], "PAUSED",
        "{body}"
    );
}

#[tokio::test]
async fn seats_changed_by_stripe_announce_each_crossing_once() {
    let app = TestApp::spawn_with(|c| {
        c.upstreams.stripe_webhook_secret = Some(Secret::new(NEW_SECRET.to_owned()));
        c.jobs.workers = 1;
    })
    .await;
    // Four members use seats.
    let w = World::new()
        .tenant(Tenant::new("acme").stripe_customer("cus_acme"))
        .member("ann", "acme", crate::support::Role::Owner)
        .member("bob", "acme", crate::support::Role::Member)
        .member("cy", "acme", crate::support::Role::Member)
        .member("di", "acme", crate::support::Role::Member)
        .build(app)
        .await;
    let t = now();
    // 4 of 5 seats (80 %), 4 of 4 (100 %), 4 of 4 again with another status (no crossing),
    // then 4 of 20 (back below 80 %).
    for (n, (status, seats)) in [
        ("active", 5),
        ("active", 4),
        ("past_due", 4),
        ("active", 20),
    ]
    .into_iter()
    .enumerate()
    {
        let kind = if n == 0 {
            "customer.subscription.created"
        } else {
            "customer.subscription.updated"
        };
        let body = subscription_event(&format!("evt_s{n}"), t + n as i64, kind, status, seats);
        let (code, _) = deliver(&w, &body, Some(&signature(&body, now(), &[NEW_SECRET]))).await;
        assert_eq!(code, 200);
        settled(&w).await;
    }
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Announced {
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        level: i16,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        used: i32,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        included: i32,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    let announced: Vec<Announced> =
        diesel::sql_query("SELECT level, used, included FROM seat_events ORDER BY id")
            .load(&mut conn)
            .await
            .unwrap();
    let row = |level, used, included| Announced {
        level,
        used,
        included,
    };
    assert_eq!(
        announced,
        vec![row(80, 4, 5), row(100, 4, 4), row(0, 4, 20)],
        "one event per crossing, none for the event that crossed nothing"
    );
}
