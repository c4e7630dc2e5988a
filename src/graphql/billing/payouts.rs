//! The billing ledger in the graph: `Partner.payouts` (a connection), `BillingSummary`
//! (`Partner.billingSummary`, operators' `platformBillingSummary`) and their inputs.

use std::collections::BTreeMap;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::DbPool;
use crate::domain::billing::payouts::{self, EntryKind, EntryRow, SummaryRow};
use crate::domain::ids::PartnerId;
use crate::error::{ApiResult, AppError};
use crate::graphql::billing::loaders::PayoutCountOfPartner;
use crate::graphql::connections::CountSource;
use crate::graphql::context::{loaders, operator};
use crate::graphql::money::Money;
use crate::graphql::scalars::Long;

/// A ledger entry: revenue an invoice brought (or a credit note or void took back) and the
/// partner's cut of it.
pub struct PayoutEntry(pub EntryRow);

impl PayoutEntry {
    /// The sort key (what a payout cursor encodes): the entry's sequence number.
    pub fn key(&self) -> i64 {
        self.0.id
    }

    fn money(&self, minor: i64) -> Money {
        Money {
            amount_minor: Long(minor),
            currency: self.0.currency.clone(),
        }
    }
}

/// A ledger entry: revenue an invoice brought (or a credit note or void took back) and the
/// partner's cut of it.
#[Object]
impl PayoutEntry {
    /// What it records.
    async fn kind(&self) -> EntryKind {
        self.0.kind
    }

    /// The Stripe invoice (`in_…`).
    async fn stripe_invoice_id(&self) -> &str {
        &self.0.stripe_invoice_id
    }

    /// Revenue moved (negative for credit notes and voids).
    async fn revenue(&self) -> Money {
        self.money(self.0.revenue_minor)
    }

    /// The partner's cut moved: `cut(net after) − cut(net before)` of the invoice, where
    /// `cut(x) = x × margin` rounded to the minor unit, halves away from zero.
    async fn partner_cut(&self) -> Money {
        self.money(self.0.partner_cut_minor)
    }

    /// The margin applied, in percent (the partner's when the invoice was paid).
    async fn margin_pct(&self) -> f64 {
        f64::from(self.0.margin_bp) / 100.0
    }

    /// When it happened (Stripe's event time).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

/// Counts a partner's ledger entries.
pub struct PayoutsCount(pub PartnerId);

impl CountSource for PayoutsCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(PayoutCountOfPartner(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a partner's ledger entries, newest first (a Relay connection).
    PayoutConnection, PayoutEntry, PayoutsCount
);

/// A period: from `from` (included) to `to` (excluded).
#[derive(InputObject, Debug, Clone, Copy)]
pub struct BillingPeriodInput {
    /// Start, included.
    pub from: DateTime<Utc>,
    /// End, excluded (after `from`, at most 366 days later).
    pub to: DateTime<Utc>,
}

impl BillingPeriodInput {
    /// `(from, to)` when the period is well formed.
    pub fn bounds(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
        if self.to <= self.from {
            return Err(AppError::bad_input(
                "period.to",
                "`to` must be after `from`",
            ));
        }
        if self.to - self.from > chrono::Duration::days(366) {
            return Err(AppError::bad_input(
                "period.to",
                "a period is at most 366 days",
            ));
        }
        Ok((self.from, self.to))
    }
}

/// Open invoices of one currency.
#[derive(SimpleObject, Debug, Clone)]
pub struct OpenInvoices {
    /// How many are open.
    pub count: i64,
    /// What they still ask for.
    pub amount_due: Money,
}

/// Revenue, the partners' cut and what is left, per currency, over a period (from the
/// ledger), and the invoices created in the period that are still open.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct BillingSummary {
    /// Whether billing runs (Stripe configured and the `new_billing_engine` flag on). When
    /// `false` the figures are what was recorded before, usually nothing.
    pub configured: bool,
    /// Paid less credited and voided, per currency.
    pub revenue: Vec<Money>,
    /// The partners' cut of it, per currency.
    pub partner_cut: Vec<Money>,
    /// Revenue less the partners' cut, per currency.
    pub net: Vec<Money>,
    /// Invoices created in the period that are open, per currency.
    pub open_invoices: Vec<OpenInvoices>,
}

impl BillingSummary {
    /// The summary of `rows` (one partner's, or the platform's), by currency.
    pub fn of(configured: bool, rows: &[SummaryRow]) -> Self {
        let mut by_currency: BTreeMap<&str, (i64, i64, i64, i64)> = BTreeMap::new();
        for r in rows {
            let slot = by_currency.entry(&r.currency).or_default();
            slot.0 += r.revenue_minor;
            slot.1 += r.partner_cut_minor;
            slot.2 += r.open_count;
            slot.3 += r.open_due_minor;
        }
        let money = |minor: i64, currency: &str| Money {
            amount_minor: Long(minor),
            currency: currency.to_owned(),
        };
        let mut summary = Self {
            configured,
            ..Self::default()
        };
        for (currency, (revenue, cut, open, due)) in by_currency {
            summary.revenue.push(money(revenue, currency));
            summary.partner_cut.push(money(cut, currency));
            summary.net.push(money(revenue - cut, currency));
            if open > 0 {
                summary.open_invoices.push(OpenInvoices {
                    count: open,
                    amount_due: money(due, currency),
                });
            }
        }
        summary
    }
}

/// Platform billing queries (operators).
#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// Revenue, partners' cut and net per currency over `period`, across every tenant, and
    /// the open invoices created in it (operators).
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn platform_billing_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period.")] period: BillingPeriodInput,
    ) -> ApiResult<BillingSummary> {
        operator(ctx).await?;
        let (from, to) = period.bounds()?;
        let configured = super::gate::platform(ctx).await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = payouts::summaries(&mut conn, None, from, to).await?;
        Ok(BillingSummary::of(configured, &rows))
    }
}
