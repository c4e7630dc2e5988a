//! `Invoice` and `Tenant.invoices` (a connection, newest first).

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use crate::domain::billing::invoices::{InvoiceRow, InvoiceStatus};
use crate::domain::ids::TenantId;
use crate::error::ApiResult;
use crate::graphql::billing::loaders::InvoiceCountOfTenant;
use crate::graphql::connections::CountSource;
use crate::graphql::context::loaders;
use crate::graphql::money::Money;
use crate::graphql::scalars::Long;

/// An invoice of a tenant (mirrored from Stripe).
pub struct Invoice(pub InvoiceRow);

impl Invoice {
    /// The sort key (what an invoice cursor encodes): the Stripe invoice id.
    pub fn key(&self) -> String {
        self.0.stripe_invoice_id.clone()
    }

    fn money(&self, minor: i64) -> Money {
        Money {
            amount_minor: Long(minor),
            currency: self.0.currency.clone(),
        }
    }
}

/// An invoice of a tenant (mirrored from Stripe).
#[Object]
impl Invoice {
    /// The invoice number, once finalised.
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }

    /// Where it stands.
    async fn status(&self) -> InvoiceStatus {
        self.0.status
    }

    /// The total.
    async fn total(&self) -> Money {
        self.money(self.0.total_minor)
    }

    /// What is still to pay.
    async fn amount_due(&self) -> Money {
        self.money(self.0.amount_due_minor)
    }

    /// What was paid.
    async fn amount_paid(&self) -> Money {
        self.money(self.0.amount_paid_minor)
    }

    /// Start of the billed period.
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.0.period_start
    }

    /// End of the billed period.
    async fn period_end(&self) -> Option<DateTime<Utc>> {
        self.0.period_end
    }

    /// When payment is due.
    async fn due_date(&self) -> Option<DateTime<Utc>> {
        self.0.due_date
    }

    /// When Stripe created it.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.stripe_created
    }

    /// Stripe's hosted invoice page.
    async fn hosted_url(&self) -> Option<&str> {
        self.0.hosted_invoice_url.as_deref()
    }

    /// The invoice as a PDF.
    async fn pdf_url(&self) -> Option<&str> {
        self.0.invoice_pdf_url.as_deref()
    }
}

/// Counts a tenant's invoices.
pub struct InvoicesCount(pub TenantId);

impl CountSource for InvoicesCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(InvoiceCountOfTenant(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a tenant's invoices, newest first (a Relay connection).
    InvoiceConnection, Invoice, InvoicesCount
);
