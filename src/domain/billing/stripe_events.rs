//! Stripe webhook events: stored once by id when they arrive ([`receive`], in the same
//! transaction as the job that applies them), then applied by that job ([`apply`]).
//!
//! A replayed event (same id) is a no-op. An event older than what a subscription already
//! reflects (Stripe's `created` against `subscriptions.stripe_synced_at`) is `stale` and moves
//! nothing back. Types this server does not handle are stored and `ignored`. Each effect is
//! audited with the system as actor and the event id in the details.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::json;

use super::{BillingCycle, SubscriptionStatus};
use crate::db::DbPool;
use crate::db::schema::{stripe_events, subscriptions, tenants};
use crate::domain::audit::{self, Actor, AuditEntry, Outcome};
use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::jobs::{self, NewJob};
use crate::domain::values::Plan;
use crate::error::{AppError, AppResult};

/// The job kind that applies one stored event.
pub const JOB_KIND: &str = "stripe_event";

crate::text_enum! {
    /// What became of a stored event.
    pub enum EventStatus {
        /// Stored; its job has not applied it yet.
        Received = "received",
        /// Applied.
        Applied = "applied",
        /// A type this server does not handle, or about nothing it knows.
        Ignored = "ignored",
        /// Older than what is already applied: nothing changed.
        Stale = "stale",
        /// Could not be applied (the error says why); not retried.
        Failed = "failed",
    }
}

/// An event as Stripe sends it (only what is read).
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    /// `evt_…`.
    pub id: String,
    /// E.g. `customer.subscription.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// The object the event is about.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object as it was when the event happened.
    pub object: serde_json::Value,
}

impl StripeEvent {
    /// Parses a verified webhook body; anything but a well-formed event is an error message.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let event: Self = serde_json::from_slice(body).map_err(|e| format!("not an event: {e}"))?;
        let id_ok = event.id.starts_with("evt_")
            && event.id.len() <= 254
            && event.id[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !id_ok {
            return Err("the event id is not an evt_ id".into());
        }
        let kind_ok = (1..=100).contains(&event.kind.len())
            && event
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !kind_ok {
            return Err("the event type is malformed".into());
        }
        if DateTime::from_timestamp(event.created, 0).is_none() {
            return Err("the event time is out of range".into());
        }
        Ok(event)
    }

    fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.created, 0).unwrap_or_default()
    }
}

/// Fields of Stripe objects that are never stored: secrets (a SetupIntent's or
/// PaymentIntent's `client_secret`) and card data (a PaymentMethod's `card` — brand, last four
/// digits, expiry, fingerprint — and its holder's `billing_details`).
const SECRET_FIELDS: [&str; 3] = ["client_secret", "card", "billing_details"];

/// `payload` without any secret or card field, at any depth.
pub fn redacted(mut payload: serde_json::Value) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| !SECRET_FIELDS.contains(&k.as_str()));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut payload);
    payload
}

/// Stores `event` (the verified body as `payload`, without secret fields) and queues its job,
/// in one transaction. Returns `false` for an event already stored (a replay): nothing is
/// queued.
pub async fn receive(
    pool: &DbPool,
    event: &StripeEvent,
    payload: serde_json::Value,
    max_attempts: u32,
) -> AppResult<bool> {
    let payload = &redacted(payload);
    let mut conn = pool.get().await?;
    conn.transaction::<bool, AppError, _>(async move |conn| {
        let stored: Option<String> = diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::id.eq(&event.id),
                stripe_events::type_.eq(&event.kind),
                stripe_events::created.eq(event.created_at()),
                stripe_events::payload.eq(payload),
            ))
            .on_conflict(stripe_events::id)
            .do_nothing()
            .returning(stripe_events::id)
            .get_result(conn)
            .await
            .optional()?;
        if stored.is_none() {
            return Ok(false);
        }
        jobs::enqueue(
            conn,
            &[NewJob {
                kind: JOB_KIND,
                payload: json!({ "event": event.id }),
                dedupe_key: Some(format!("stripe_event:{}", event.id)),
                max_attempts,
            }],
        )
        .await?;
        Ok(true)
    })
    .await
}

/// The subscription object of `customer.subscription.*` events (only what is read).
#[derive(Debug, Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: String,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    /// Top-level before API version 2025-03-31, on the items after it.
    current_period_end: Option<i64>,
    items: Items,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Items {
    data: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    quantity: Option<i64>,
    price: Price,
    current_period_end: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Price {
    unit_amount: Option<i64>,
    currency: String,
    recurring: Option<Recurring>,
    lookup_key: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Recurring {
    interval: String,
}

#[derive(Queryable)]
struct StoredEvent {
    kind: String,
    created: DateTime<Utc>,
    payload: serde_json::Value,
    status: EventStatus,
}

/// Applies the stored event `id` once: later runs of the same job find it settled and change
/// nothing. Returns what became of it. Database errors are returned (the job retries);
/// an event that cannot be applied is marked `failed` with the reason.
pub async fn apply(pool: &DbPool, id: &str) -> AppResult<EventStatus> {
    let mut conn = pool.get().await?;
    conn.transaction::<EventStatus, AppError, _>(async move |conn| {
        let Some(stored) = stripe_events::table
            .find(id)
            .select((
                stripe_events::type_,
                stripe_events::created,
                stripe_events::payload,
                stripe_events::status,
            ))
            .for_update()
            .first::<StoredEvent>(conn)
            .await
            .optional()?
        else {
            return Err(AppError::NotFound {
                what: "stripe event",
            });
        };
        if stored.status != EventStatus::Received {
            return Ok(stored.status);
        }
        let (status, error) = match stored.kind.as_str() {
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => {
                match sync_subscription(conn, id, &stored).await? {
                    Ok(status) => (status, None),
                    Err(reason) => (EventStatus::Failed, Some(reason)),
                }
            }
            "invoice.created"
            | "invoice.finalized"
            | "invoice.paid"
            | "invoice.payment_failed"
            | "invoice.voided" => {
                let object = stored
                    .payload
                    .get("data")
                    .and_then(|d| d.get("object"))
                    .cloned()
                    .unwrap_or_default();
                match super::invoices::sync_event(conn, id, &stored.kind, stored.created, object)
                    .await?
                {
                    Ok(status) => (status, None),
                    Err(reason) => (EventStatus::Failed, Some(reason)),
                }
            }
            "setup_intent.succeeded" | "payment_method.attached" | "payment_method.detached" => {
                match super::payment_method::sync_event(conn, id, &stored.kind, object(&stored))
                    .await?
                {
                    Ok(status) => (status, None),
                    Err(reason) => (EventStatus::Failed, Some(reason)),
                }
            }
            "credit_note.created" => {
                match super::payouts::on_credit_note(conn, id, stored.created, object(&stored))
                    .await?
                {
                    Ok(status) => (status, None),
                    Err(reason) => (EventStatus::Failed, Some(reason)),
                }
            }
            _ => (EventStatus::Ignored, None),
        };
        diesel::update(stripe_events::table.find(id))
            .set((
                stripe_events::status.eq(status),
                stripe_events::error.eq(error),
                stripe_events::processed_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(status)
    })
    .await
}

/// `data.object` of a stored event.
fn object(stored: &StoredEvent) -> serde_json::Value {
    stored
        .payload
        .get("data")
        .and_then(|d| d.get("object"))
        .cloned()
        .unwrap_or_default()
}

/// Stripe's subscription statuses as ours; `None` for one this server does not model.
pub(crate) fn status_of(stripe: &str, deleted: bool) -> Option<SubscriptionStatus> {
    if deleted {
        return Some(SubscriptionStatus::Canceled);
    }
    match stripe {
        // An incomplete subscription whose first payment window closed is over.
        "incomplete_expired" => Some(SubscriptionStatus::Canceled),
        other => SubscriptionStatus::parse(other),
    }
}

/// Mirrors a subscription event onto the tenant's subscription row. `Ok(Err(reason))` when the
/// event cannot be applied (it is marked `failed`).
async fn sync_subscription(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    stored: &StoredEvent,
) -> AppResult<Result<EventStatus, String>> {
    let object = stored
        .payload
        .get("data")
        .and_then(|d| d.get("object"))
        .cloned()
        .unwrap_or_default();
    let sub: SubscriptionObject = match serde_json::from_value(object) {
        Ok(sub) => sub,
        Err(e) => return Ok(Err(format!("not a subscription: {e}"))),
    };
    let Some((tenant_id, partner_id, tenant_plan)) = tenants::table
        .filter(tenants::stripe_customer_id.eq(&sub.customer))
        .select((tenants::id, tenants::partner_id, tenants::plan))
        .first::<(TenantId, Option<PartnerId>, String)>(conn)
        .await
        .optional()?
    else {
        // About a customer this server did not create: nothing to mirror.
        return Ok(Ok(EventStatus::Ignored));
    };
    let synced: Option<Option<DateTime<Utc>>> = subscriptions::table
        .filter(subscriptions::tenant_id.eq(tenant_id))
        .select(subscriptions::stripe_synced_at)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if synced.flatten().is_some_and(|at| at > stored.created) {
        return Ok(Ok(EventStatus::Stale));
    }
    let deleted = stored.kind == "customer.subscription.deleted";
    let Some(status) = status_of(&sub.status, deleted) else {
        return Ok(Err(format!(
            "unsupported subscription status {:?}",
            sub.status
        )));
    };
    let Some(item) = <[Item]>::first(&sub.items.data) else {
        return Ok(Err("a subscription without items".into()));
    };
    let cycle = match item.price.recurring.as_ref().map(|r| r.interval.as_str()) {
        Some("month") => BillingCycle::Monthly,
        Some("year") => BillingCycle::Yearly,
        other => return Ok(Err(format!("unsupported billing interval {other:?}"))),
    };
    let seats = item.quantity.unwrap_or(1);
    let (Ok(seats_i32), Some(unit)) = (i32::try_from(seats), item.price.unit_amount) else {
        return Ok(Err("seats or unit amount out of range".into()));
    };
    let Some(price_minor) = unit.checked_mul(seats) else {
        return Ok(Err("price out of range".into()));
    };
    let currency = item.price.currency.to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(Err(format!("not a currency: {:?}", item.price.currency)));
    }
    let plan = sub
        .metadata
        .get("plan")
        .or(item.price.lookup_key.as_ref())
        .and_then(|p| Plan::parse(p, "plan").ok())
        .map_or(tenant_plan, |p| p.as_str().to_owned());
    let period_end = item
        .current_period_end
        .or(sub.current_period_end)
        .and_then(|t| DateTime::from_timestamp(t, 0));
    let values = (
        subscriptions::tenant_id.eq(tenant_id),
        subscriptions::plan.eq(&plan),
        subscriptions::status.eq(status),
        subscriptions::seats.eq(seats_i32),
        subscriptions::price_minor.eq(price_minor),
        subscriptions::currency.eq(&currency),
        subscriptions::billing_cycle.eq(cycle),
        subscriptions::stripe_customer_id.eq(&sub.customer),
        subscriptions::stripe_subscription_id.eq(&sub.id),
        subscriptions::current_period_end.eq(period_end),
        subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
        subscriptions::stripe_synced_at.eq(stored.created),
    );
    diesel::insert_into(subscriptions::table)
        .values(values)
        .on_conflict(subscriptions::tenant_id)
        .do_update()
        .set((
            subscriptions::plan.eq(&plan),
            subscriptions::status.eq(status),
            subscriptions::seats.eq(seats_i32),
            subscriptions::price_minor.eq(price_minor),
            subscriptions::currency.eq(&currency),
            subscriptions::billing_cycle.eq(cycle),
            subscriptions::stripe_customer_id.eq(&sub.customer),
            subscriptions::stripe_subscription_id.eq(&sub.id),
            subscriptions::current_period_end.eq(period_end),
            subscriptions::cancel_at_period_end.eq(sub.cancel_at_period_end),
            subscriptions::stripe_synced_at.eq(stored.created),
            subscriptions::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    // The seats may have moved the usage across 80 % or 100 %.
    crate::domain::members::seats::announce(conn, tenant_id).await?;
    let entry = AuditEntry {
        action: "billing.subscription.sync",
        target_type: "subscription",
        target_id: Some(sub.id.clone()),
        tenant_id: Some(tenant_id),
        partner_id,
        outcome: Outcome::Success,
        details: json!({
            "event": event_id, "type": stored.kind, "status": status, "seats": seats,
            "priceMinor": price_minor, "currency": currency, "plan": plan,
            "cancelAtPeriodEnd": sub.cancel_at_period_end,
        }),
    };
    audit::record(conn, &Actor::default(), &entry).await?;
    Ok(Ok(EventStatus::Applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_strictly() {
        let ok =
            br#"{"id":"evt_1Abc","type":"invoice.paid","created":1700000000,"data":{"object":{}}}"#;
        assert_eq!(StripeEvent::parse(ok).unwrap().kind, "invoice.paid");
        for bad in [
            &br#"{"id":"nope","type":"invoice.paid","created":1,"data":{"object":{}}}"#[..],
            br#"{"id":"evt_1","type":"Invoice Paid","created":1,"data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"invoice.paid","created":1}"#,
            b"not json",
        ] {
            assert!(StripeEvent::parse(bad).is_err());
        }
    }

    #[test]
    fn card_data_is_removed() {
        let payload = json!({ "data": { "object": { "id": "pm_1", "type": "card",
            "billing_details": { "name": "Ada" },
            "card": { "brand": "visa", "last4": "4242", "exp_month": 12 } } } });
        let clean = redacted(payload).to_string();
        assert!(!clean.contains("4242") && !clean.contains("Ada"), "{clean}");
        assert!(clean.contains("\"type\":\"card\""), "{clean}");
    }

    #[test]
    fn client_secrets_are_removed_at_any_depth() {
        let payload = json!({
            "data": { "object": { "id": "seti_1", "client_secret": "seti_1_secret_x",
                                  "next": [{ "client_secret": "y", "keep": 1 }] } }
        });
        let clean = redacted(payload).to_string();
        assert!(!clean.contains("secret"), "{clean}");
        assert!(clean.contains("\"keep\":1") && clean.contains("seti_1"));
    }

    #[test]
    fn stripe_statuses_map_onto_ours() {
        assert_eq!(status_of("active", false), Some(SubscriptionStatus::Active));
        assert_eq!(
            status_of("active", true),
            Some(SubscriptionStatus::Canceled)
        );
        assert_eq!(
            status_of("incomplete_expired", false),
            Some(SubscriptionStatus::Canceled)
        );
        assert_eq!(status_of("paused", false), Some(SubscriptionStatus::Paused));
        assert_eq!(status_of("bogus", false), None);
    }
}
