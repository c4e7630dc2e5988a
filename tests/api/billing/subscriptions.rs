//! Subscriptions against the Stripe fake: created by provisioning after the customer (once,
//! however often provisioning runs), seats changed by `setSubscriptionSeats` and the plan by
//! `updateTenant` (Stripe prorates), cancelled at the period's end on termination; each
//! mutation allowed, denied (no Stripe call) and invalid (nothing written).

use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};

use crate::provisioning::{Stack, app_with, create_tenant, settled, step};
use crate::support::{Role, Tenant, TestApp, World};

const SET_SEATS: &str = r#"
mutation($input: SetSubscriptionSeatsInput!) {
  setSubscriptionSeats(input: $input) { tenant { slug } }
}"#;

const SUBSCRIPTION: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    plan { key }
    subscription {
      plan { key } status seats seatsUsed billingCycle currentPeriodEnd cancelAtPeriodEnd
      price { amountMinor currency }
    }
  }
}"#;

fn seats(tenant: &str, seats: i32) -> Value {
    json!({ "input": { "tenant": tenant, "seats": seats } })
}

async fn subscription(w: &World, slug: &str) -> Value {
    let body = w
        .query_with("root", SUBSCRIPTION, json!({ "slug": slug }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"]["subscription"].clone()
}

/// Polls the subscription until `done` or panics after 30 s.
async fn until(w: &World, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sub = subscription(w, "acme").await;
        if done(&sub) {
            return sub;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {sub}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Plans `team` (3 seats; 12.00 EUR a seat a month) and `big` (20.00), priced in the fake.
async fn catalogue(w: &World, stack: &Stack) {
    for (key, price, amount) in [("team", "price_team_m", 1200), ("big", "price_big_m", 2000)] {
        stack.stripe.add_price(price, amount, "eur", "month");
        let plan = json!({ "input": { "key": key, "name": key, "seatsIncluded": 3,
            "mailboxQuotaBytes": "1", "storageQuotaBytes": "1" } });
        w.allowed(
            "root",
            r#"mutation($input: UpsertPlanInput!) { upsertPlan(input: $input) { plan { key } } }"#,
            plan,
            "plan.upsert",
        )
        .await;
        let price = json!({ "input": { "plan": key, "currency": "EUR", "billingCycle": "MONTHLY",
            "unitAmountMinor": amount.to_string(), "stripePriceId": price } });
        w.allowed(
            "root",
            r#"mutation($input: SetPlanPriceInput!) { setPlanPrice(input: $input) { plan { key } } }"#,
            price,
            "plan.set_price",
        )
        .await;
    }
}

/// Runs provisioning for acme (as the operator).
async fn reconcile(w: &World) {
    w.allowed(
        "root",
        r#"mutation($tenant: String!) { reconcileTenant(tenant: $tenant) { queued } }"#,
        json!({ "tenant": "acme" }),
        "tenant.reconcile",
    )
    .await;
}

fn subscription_posts(stack: &Stack) -> usize {
    stack
        .stripe
        .calls()
        .iter()
        .filter(|c| c.method == Method::POST && c.path.starts_with("/v1/subscriptions"))
        .count()
}

#[tokio::test]
async fn subscriptions_follow_provisioning_seats_plan_and_termination() {
    let stack = Stack::spawn().await;
    let mut w = app_with(&stack, 2).await;
    catalogue(&w, &stack).await;
    w.arrange(
        World::new()
            .tenant(Tenant::new("acme").plan("team"))
            .member("owner", "acme", Role::Owner)
            .member("mem", "acme", Role::Member)
            .user("stranger"),
    )
    .await;
    reconcile(&w).await;
    let state = settled(&w, "acme").await;
    assert_eq!(
        step(&state, "STRIPE_SUBSCRIPTION")["status"],
        "OK",
        "{state:#}"
    );
    let sub_id = step(&state, "STRIPE_SUBSCRIPTION")["upstreamId"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = subscription(&w, "acme").await;
    assert_eq!(
        (
            sub["plan"]["key"].clone(),
            sub["status"].clone(),
            sub["seats"].clone(),
            sub["seatsUsed"].clone()
        ),
        (json!("team"), json!("INCOMPLETE"), json!(3), json!(2)),
        "no card yet: incomplete; {sub}"
    );
    assert_eq!(
        sub["price"],
        json!({ "amountMinor": 3600, "currency": "EUR" })
    );
    assert_eq!(sub["billingCycle"], "MONTHLY");
    assert_eq!(sub["cancelAtPeriodEnd"], false);
    assert!(sub["currentPeriodEnd"].is_string());
    let customer = stack
        .stripe
        .state()
        .customers
        .keys()
        .next()
        .unwrap()
        .clone();
    let held = stack.stripe.subscription(&sub_id).unwrap();
    assert_eq!(held["customer"], customer.as_str());
    assert_eq!(held["items"]["data"][0]["quantity"], 3);

    // Provisioning again changes nothing in Stripe (the same subscription) and backfills the
    // invoices the webhook did not bring.
    stack.stripe.add_invoice(&customer, 3600, "open");
    reconcile(&w).await;
    let state = settled(&w, "acme").await;
    assert_eq!(
        step(&state, "STRIPE_SUBSCRIPTION")["upstreamId"],
        sub_id.as_str()
    );
    assert_eq!(stack.stripe.state().subscriptions.len(), 1);
    let body = w
        .query_with(
            "root",
            r#"query($slug: String!) { tenant(slug: $slug) { invoices { totalCount nodes { status amountDue { amountMinor currency } } } } }"#,
            json!({ "slug": "acme" }),
        )
        .await;
    assert_eq!(
        body["data"]["tenant"]["invoices"],
        json!({ "totalCount": 1, "nodes": [{ "status": "OPEN",
                "amountDue": { "amountMinor": 3600, "currency": "EUR" } }] }),
        "{body}"
    );

    // Denied: no Stripe call, nothing written.
    let posts = subscription_posts(&stack);
    for (who, code) in [
        (Some("mem"), "FORBIDDEN"),
        (Some("stranger"), "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ] {
        w.denied(who, SET_SEATS, seats("acme", 5), "billing.set_seats", code)
            .await;
    }
    // Invalid: nothing written, nothing queued.
    for bad in [0, 1, 3, 10_001] {
        w.invalid(
            "owner",
            SET_SEATS,
            seats("acme", bad),
            "billing.set_seats",
            "input.seats",
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(subscription_posts(&stack), posts, "no Stripe call");

    // Allowed: Stripe prorates; the subscription shows the new seats.
    w.allowed("owner", SET_SEATS, seats("acme", 5), "billing.set_seats")
        .await;
    let sub = until(&w, "5 seats", |s| s["seats"] == 5).await;
    assert_eq!(sub["price"]["amountMinor"], 6000);
    assert_eq!(sub["seatsUsed"], 2);
    assert_eq!(
        stack.stripe.subscription(&sub_id).unwrap()["items"]["data"][0]["quantity"],
        5
    );
    assert_eq!(
        stack.stripe.state().prorations,
        std::slice::from_ref(&sub_id)
    );

    // A plan change moves the subscription to the plan's price, seats kept.
    w.allowed(
        "root",
        r#"mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { slug } } }"#,
        json!({ "input": { "tenant": "acme", "plan": "big" } }),
        "tenant.update",
    )
    .await;
    let sub = until(&w, "plan big", |s| s["plan"]["key"] == "big").await;
    assert_eq!(sub["price"]["amountMinor"], 10000);
    assert_eq!(
        stack.stripe.subscription(&sub_id).unwrap()["items"]["data"][0]["price"]["id"],
        "price_big_m"
    );
    assert_eq!(stack.stripe.state().prorations.len(), 2);

    // Termination: billing stops at the end of the period.
    w.allowed(
        "root",
        r#"mutation($input: TenantStatusInput!) { terminateTenant(input: $input) { tenant { status } } }"#,
        json!({ "input": { "tenant": "acme" } }),
        "tenant.terminate",
    )
    .await;
    until(&w, "cancellation", |s| s["cancelAtPeriodEnd"] == true).await;
    assert_eq!(
        stack.stripe.subscription(&sub_id).unwrap()["cancel_at_period_end"],
        true
    );
    assert_eq!(
        stack.stripe.state().subscriptions.len(),
        1,
        "one subscription throughout"
    );
}

#[tokio::test]
async fn a_plan_without_a_stripe_price_has_no_subscription_step() {
    let stack = Stack::spawn().await;
    let w = app_with(&stack, 2).await;
    create_tenant(&w, "acme", None).await;
    let state = settled(&w, "acme").await;
    assert_eq!(state["status"], "ACTIVE");
    let steps = state["provisioning"]["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["step"] != "STRIPE_SUBSCRIPTION"),
        "{state:#}"
    );
    assert!(stack.stripe.state().subscriptions.is_empty());
    assert!(subscription(&w, "acme").await.is_null());
}

#[tokio::test]
async fn without_stripe_seats_cannot_change_and_nothing_is_called() {
    let app = TestApp::spawn().await;
    let w = World::new()
        .tenant("acme")
        .member("owner", "acme", Role::Owner)
        .build(app)
        .await;
    w.refused(
        Some("owner"),
        SET_SEATS,
        seats("acme", 4),
        "billing.set_seats",
        "CONFLICT",
        "failure",
    )
    .await;
}
