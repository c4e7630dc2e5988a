//! Changes to the plan catalogue (operators; audited): `plan.upsert` and `plan.set_price`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::BillingCycle;
use super::currency::Currency;
use super::plans::{PlanRow, PriceRow, require};
use crate::db::schema::{plans, prices};
use crate::domain::audit::change::{Caller, need};
use crate::domain::values::{Name, Plan};
use crate::error::{AppError, AppResult};

/// Input of `upsertPlan`: a plan by key, created or replaced.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Stable key (1–32 of `a-z 0-9 _ -`).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Seats included.
    pub seats_included: i32,
    /// Mailbox quota per member, bytes.
    pub mailbox_quota_bytes: i64,
    /// Storage quota per tenant, bytes.
    pub storage_quota_bytes: i64,
}

/// Input of `setPlanPrice`.
#[derive(Debug, Clone)]
pub struct NewPrice {
    /// The plan's key.
    pub plan: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Billing cycle.
    pub billing_cycle: BillingCycle,
    /// Price of one seat per cycle, minor units.
    pub unit_amount_minor: i64,
    /// The Stripe Price id (`price_…`), if it exists yet.
    pub stripe_price_id: Option<String>,
}

fn non_negative<T: PartialOrd + Default>(value: T, field: &str) -> AppResult<T> {
    if value >= T::default() {
        Ok(value)
    } else {
        Err(AppError::bad_input(field, "must not be negative"))
    }
}

/// `upsertPlan` (operators): creates the plan `key` or replaces its name and limits.
pub async fn upsert(caller: &Caller, input: PlanInput) -> AppResult<PlanRow> {
    caller
        .change("plan.upsert", "plan")
        .target(input.key.clone())
        .run(need::operator(), async move |tx, ()| {
            let key = Plan::parse(&input.key, "input.key")?;
            let name = Name::parse(&input.name, "input.name")?;
            let seats = non_negative(input.seats_included, "input.seatsIncluded")?;
            let mailbox = non_negative(input.mailbox_quota_bytes, "input.mailboxQuotaBytes")?;
            let storage = non_negative(input.storage_quota_bytes, "input.storageQuotaBytes")?;
            let before: Option<PlanRow> = plans::table
                .find(key.as_str())
                .select(PlanRow::as_select())
                .for_update()
                .first(tx.conn)
                .await
                .optional()?;
            let values = (
                plans::key.eq(key.as_str()),
                plans::name.eq(name.as_str()),
                plans::seats_included.eq(seats),
                plans::mailbox_quota_bytes.eq(mailbox),
                plans::storage_quota_bytes.eq(storage),
            );
            let row: PlanRow = diesel::insert_into(plans::table)
                .values(values)
                .on_conflict(plans::key)
                .do_update()
                .set((
                    plans::name.eq(name.as_str()),
                    plans::seats_included.eq(seats),
                    plans::mailbox_quota_bytes.eq(mailbox),
                    plans::storage_quota_bytes.eq(storage),
                ))
                .returning(PlanRow::as_returning())
                .get_result(tx.conn)
                .await?;
            tx.audit.details = json!({
                "created": before.is_none(),
                "before": before.map(|b| json!({
                    "name": b.name, "seatsIncluded": b.seats_included,
                    "mailboxQuotaBytes": b.mailbox_quota_bytes,
                    "storageQuotaBytes": b.storage_quota_bytes,
                })),
                "name": row.name, "seatsIncluded": row.seats_included,
                "mailboxQuotaBytes": row.mailbox_quota_bytes,
                "storageQuotaBytes": row.storage_quota_bytes,
            });
            Ok(row)
        })
        .await
}

fn stripe_price_id(raw: &str, field: &str) -> AppResult<String> {
    let id = raw.trim();
    let ok = id.len() <= 206
        && id.strip_prefix("price_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(id.to_owned())
    } else {
        Err(AppError::bad_input(
            field,
            "a Stripe price id looks like price_…",
        ))
    }
}

/// `setPlanPrice` (operators): the price of one seat of a plan per currency and cycle,
/// created or replaced.
pub async fn set_price(caller: &Caller, input: NewPrice) -> AppResult<PriceRow> {
    caller
        .change("plan.set_price", "plan")
        .target(input.plan.clone())
        .run(need::operator(), async move |tx, ()| {
            let currency = Currency::parse(&input.currency, "input.currency")?;
            let amount = non_negative(input.unit_amount_minor, "input.unitAmountMinor")?;
            let stripe = input
                .stripe_price_id
                .as_deref()
                .map(|id| stripe_price_id(id, "input.stripePriceId"))
                .transpose()?;
            let plan = require(tx.conn, &input.plan, "input.plan").await?;
            if let Some(id) = &stripe {
                let taken: Option<String> = prices::table
                    .filter(prices::stripe_price_id.eq(id))
                    .filter(
                        prices::plan_key
                            .ne(&plan.key)
                            .or(prices::currency.ne(currency.as_str()))
                            .or(prices::billing_cycle.ne(input.billing_cycle)),
                    )
                    .select(prices::plan_key)
                    .first(tx.conn)
                    .await
                    .optional()?;
                if taken.is_some() {
                    return Err(AppError::bad_input(
                        "input.stripePriceId",
                        "this Stripe price is already another price's",
                    ));
                }
            }
            let row: PriceRow = diesel::insert_into(prices::table)
                .values((
                    prices::plan_key.eq(&plan.key),
                    prices::currency.eq(currency.as_str()),
                    prices::billing_cycle.eq(input.billing_cycle),
                    prices::unit_amount_minor.eq(amount),
                    prices::stripe_price_id.eq(&stripe),
                ))
                .on_conflict((prices::plan_key, prices::currency, prices::billing_cycle))
                .do_update()
                .set((
                    prices::unit_amount_minor.eq(amount),
                    prices::stripe_price_id.eq(&stripe),
                ))
                .returning(PriceRow::as_returning())
                .get_result(tx.conn)
                .await?;
            tx.audit.details = json!({
                "plan": row.plan_key, "currency": row.currency, "billingCycle": row.billing_cycle,
                "unitAmountMinor": row.unit_amount_minor, "stripePriceId": row.stripe_price_id,
            });
            Ok(row)
        })
        .await
}
