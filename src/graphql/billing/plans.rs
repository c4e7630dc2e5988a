//! The plan catalogue in the graph: `Plan`, `Price`, the `plans` query and the operators'
//! `upsertPlan` / `setPlanPrice`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain::billing::BillingCycle;
use crate::domain::billing::plans::{self, NewPrice, PlanInput, PlanRow, PriceRow};
use crate::error::ApiResult;
use crate::graphql::billing::loaders::PricesOfPlan;
use crate::graphql::context::{caller, loaders};
use crate::graphql::money::Money;
use crate::graphql::scalars::Long;

/// A plan of the catalogue: what a tenant on it gets.
pub struct Plan(pub Arc<PlanRow>);

/// A plan of the catalogue: the seats and quotas a tenant on it gets, and its prices.
#[Object]
impl Plan {
    /// Stable key (what `createTenant`/`updateTenant` take as `plan`).
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Seats a tenant on this plan has without a subscription.
    async fn seats_included(&self) -> i32 {
        self.0.seats_included
    }

    /// Mailbox quota per member, in bytes.
    async fn mailbox_quota_bytes(&self) -> Long {
        Long(self.0.mailbox_quota_bytes)
    }

    /// File storage quota of a tenant, in bytes.
    async fn storage_quota_bytes(&self) -> Long {
        Long(self.0.storage_quota_bytes)
    }

    /// Its prices, by currency and billing cycle.
    async fn prices(&self, ctx: &Context<'_>) -> ApiResult<Vec<Price>> {
        let rows = loaders(ctx)
            .db
            .load_one(PricesOfPlan(self.0.key.clone()))
            .await?
            .unwrap_or_default();
        Ok(rows.iter().cloned().map(Price).collect())
    }
}

/// The price of one seat of a plan for one billing cycle in one currency.
pub struct Price(pub PriceRow);

/// The price of one seat of a plan for one billing cycle in one currency.
#[Object]
impl Price {
    /// Currency and amount of one seat per cycle.
    async fn unit_amount(&self) -> Money {
        Money {
            amount_minor: Long(self.0.unit_amount_minor),
            currency: self.0.currency.clone(),
        }
    }

    /// How often it is billed.
    async fn billing_cycle(&self) -> BillingCycle {
        self.0.billing_cycle
    }

    /// The Stripe Price subscriptions use (operators).
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn stripe_price_id(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        crate::graphql::context::operator(ctx).await?;
        Ok(self.0.stripe_price_id.as_deref())
    }
}

/// Plan catalogue queries.
#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// The plan catalogue, by key (any signed-in caller).
    async fn plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<Plan>> {
        ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = plans::all(&mut conn).await?;
        Ok(rows.into_iter().map(|r| Plan(Arc::new(r))).collect())
    }
}

/// Input of `upsertPlan`.
#[derive(InputObject)]
pub struct UpsertPlanInput {
    /// Stable key: 1–32 of a-z, 0-9, `_`, `-`. An existing plan with this key is replaced.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Seats included (≥ 0).
    pub seats_included: i32,
    /// Mailbox quota per member, bytes (≥ 0).
    pub mailbox_quota_bytes: Long,
    /// Storage quota per tenant, bytes (≥ 0).
    pub storage_quota_bytes: Long,
}

/// Input of `setPlanPrice`.
#[derive(InputObject)]
pub struct SetPlanPriceInput {
    /// The plan's key.
    pub plan: String,
    /// ISO 4217 currency, e.g. `EUR`.
    pub currency: String,
    /// Billing cycle.
    pub billing_cycle: BillingCycle,
    /// Price of one seat per cycle, in the currency's minor units (≥ 0).
    pub unit_amount_minor: Long,
    /// The Stripe Price (`price_…`) subscriptions to this plan use.
    pub stripe_price_id: Option<String>,
}

/// The plan after a catalogue change.
#[derive(SimpleObject)]
pub struct PlanPayload {
    /// The plan as it is now.
    pub plan: Plan,
}

/// Plan catalogue mutations (operators).
#[derive(Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    /// Creates a plan or replaces its name, seats and quotas (operators). Audited
    /// (`plan.upsert`).
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn upsert_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan.")] input: UpsertPlanInput,
    ) -> ApiResult<PlanPayload> {
        let input = PlanInput {
            key: input.key,
            name: input.name,
            seats_included: input.seats_included,
            mailbox_quota_bytes: input.mailbox_quota_bytes.0,
            storage_quota_bytes: input.storage_quota_bytes.0,
        };
        let row = plans::upsert(&caller(ctx).await?, input).await?;
        Ok(PlanPayload {
            plan: Plan(Arc::new(row)),
        })
    }

    /// Sets the price of one seat of a plan for a currency and billing cycle (operators).
    /// Audited (`plan.set_price`).
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn set_plan_price(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan, currency, cycle and amount.")] input: SetPlanPriceInput,
    ) -> ApiResult<PlanPayload> {
        let price = NewPrice {
            plan: input.plan,
            currency: input.currency,
            billing_cycle: input.billing_cycle,
            unit_amount_minor: input.unit_amount_minor.0,
            stripe_price_id: input.stripe_price_id,
        };
        let row = plans::set_price(&caller(ctx).await?, price).await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let plan = plans::by_keys(&mut conn, &[row.plan_key])
            .await?
            .pop()
            .ok_or(crate::error::AppError::NotFound { what: "plan" })?;
        Ok(PlanPayload {
            plan: Plan(Arc::new(plan)),
        })
    }
}
