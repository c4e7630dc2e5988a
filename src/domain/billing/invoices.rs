//! Invoices: one row per Stripe invoice of a tenant, fed by the `invoice.*` webhook events
//! ([`sync`]) and backfilled from Stripe's list when provisioning runs again ([`backfill`]).
//! A row never moves back: an answer or event older than the row's `stripe_synced_at` is
//! stale.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;

use serde_json::json;

use super::stripe_events::EventStatus;
use crate::db::schema::{invoices, tenants};
use crate::domain::audit::{self, Actor, AuditEntry, Outcome};
use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::page::fetch_limit;
use crate::error::AppResult;
use crate::upstream::stripe::{Invoice, ListInvoices, StripeClient};

crate::text_enum! {
    /// Where an invoice stands (Stripe's states).
    #[derive(async_graphql::Enum)]
    pub enum InvoiceStatus {
        /// Being prepared; may still change.
        Draft = "draft",
        /// Finalised, awaiting payment.
        Open = "open",
        /// Paid.
        Paid = "paid",
        /// Will not be paid.
        Uncollectible = "uncollectible",
        /// Cancelled.
        Void = "void",
    }
}

/// An `invoices` row.
#[derive(Queryable, QueryableByName, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = invoices)]
pub struct InvoiceRow {
    /// The tenant.
    pub tenant_id: TenantId,
    /// `in_…`.
    pub stripe_invoice_id: String,
    /// The number, once finalised.
    pub number: Option<String>,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Total, minor units.
    pub total_minor: i64,
    /// Still to pay, minor units.
    pub amount_due_minor: i64,
    /// Paid, minor units.
    pub amount_paid_minor: i64,
    /// Start of the billed period.
    pub period_start: Option<DateTime<Utc>>,
    /// End of the billed period.
    pub period_end: Option<DateTime<Utc>>,
    /// When payment is due.
    pub due_date: Option<DateTime<Utc>>,
    /// Stripe's hosted invoice page.
    pub hosted_invoice_url: Option<String>,
    /// The PDF.
    pub invoice_pdf_url: Option<String>,
    /// Stripe's creation time (the sort key).
    pub stripe_created: DateTime<Utc>,
}

/// An invoice as Stripe sends it (event object or list item; only what is read).
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceObject {
    /// `in_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// Stripe's status.
    pub status: Option<String>,
    /// Number, once finalised.
    pub number: Option<String>,
    /// Lower-case currency.
    pub currency: String,
    /// Total, minor units.
    pub total: Option<i64>,
    /// Due, minor units.
    pub amount_due: i64,
    /// Paid, minor units.
    #[serde(default)]
    pub amount_paid: i64,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub period_start: Option<i64>,
    /// Unix seconds.
    pub period_end: Option<i64>,
    /// Unix seconds.
    pub due_date: Option<i64>,
    /// Hosted page.
    pub hosted_invoice_url: Option<String>,
    /// PDF.
    pub invoice_pdf: Option<String>,
}

fn at(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
}

/// Writes `invoice` for `tenant` as known at `synced` unless the row reflects a later moment.
/// `Ok(Err(reason))` for an invoice that cannot be stored; `Ok(Ok(false))` when stale.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    invoice: &InvoiceObject,
    synced: DateTime<Utc>,
) -> AppResult<Result<bool, String>> {
    let Some(status) = invoice.status.as_deref().and_then(InvoiceStatus::parse) else {
        return Ok(Err(format!(
            "unsupported invoice status {:?}",
            invoice.status
        )));
    };
    let currency = invoice.currency.to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(Err(format!("not a currency: {:?}", invoice.currency)));
    }
    let Some(created) = at(Some(invoice.created)) else {
        return Ok(Err("creation time out of range".into()));
    };
    let total = invoice.total.unwrap_or(invoice.amount_due);
    let values = (
        invoices::tenant_id.eq(tenant),
        invoices::stripe_invoice_id.eq(&invoice.id),
        invoices::number.eq(&invoice.number),
        invoices::status.eq(status),
        invoices::currency.eq(&currency),
        invoices::total_minor.eq(total),
        invoices::amount_due_minor.eq(invoice.amount_due),
        invoices::amount_paid_minor.eq(invoice.amount_paid),
        invoices::period_start.eq(at(invoice.period_start)),
        invoices::period_end.eq(at(invoice.period_end)),
        invoices::due_date.eq(at(invoice.due_date)),
        invoices::hosted_invoice_url.eq(&invoice.hosted_invoice_url),
        invoices::invoice_pdf_url.eq(&invoice.invoice_pdf),
        invoices::stripe_created.eq(created),
        invoices::stripe_synced_at.eq(synced),
    );
    let known: Option<DateTime<Utc>> = invoices::table
        .filter(invoices::stripe_invoice_id.eq(&invoice.id))
        .select(invoices::stripe_synced_at)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if known.is_some_and(|k| k > synced) {
        return Ok(Ok(false));
    }
    diesel::insert_into(invoices::table)
        .values(values)
        .on_conflict(invoices::stripe_invoice_id)
        .do_update()
        .set((
            invoices::number.eq(&invoice.number),
            invoices::status.eq(status),
            invoices::total_minor.eq(total),
            invoices::amount_due_minor.eq(invoice.amount_due),
            invoices::amount_paid_minor.eq(invoice.amount_paid),
            invoices::period_start.eq(at(invoice.period_start)),
            invoices::period_end.eq(at(invoice.period_end)),
            invoices::due_date.eq(at(invoice.due_date)),
            invoices::hosted_invoice_url.eq(&invoice.hosted_invoice_url),
            invoices::invoice_pdf_url.eq(&invoice.invoice_pdf),
            invoices::stripe_synced_at.eq(synced),
            invoices::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(Ok(true))
}

/// One forward page of each tenant's invoices, newest first, after the invoice `after`
/// (a Stripe id) — one statement for any number of tenants.
pub async fn pages_by_tenant(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
    after: Option<&str>,
    limit: usize,
) -> QueryResult<Vec<InvoiceRow>> {
    crate::db::cached(
        diesel::sql_query(
            "SELECT tenant_id, stripe_invoice_id, number, status, currency, total_minor,
                    amount_due_minor, amount_paid_minor, period_start, period_end, due_date,
                    hosted_invoice_url, invoice_pdf_url, stripe_created
               FROM (SELECT i.*, row_number() OVER (PARTITION BY i.tenant_id
                                     ORDER BY i.stripe_created DESC, i.stripe_invoice_id DESC) AS rn
                       FROM invoices i
                      WHERE i.tenant_id = ANY($1)
                        AND ($2::text IS NULL OR (i.stripe_created, i.stripe_invoice_id) <
                             (SELECT c.stripe_created, c.stripe_invoice_id FROM invoices c
                               WHERE c.stripe_invoice_id = $2 AND c.tenant_id = i.tenant_id))
                    ) ranked
              WHERE rn <= $3
              ORDER BY tenant_id, stripe_created DESC, stripe_invoice_id DESC",
        )
        .bind::<Array<SqlUuid>, _>(tenant_ids)
        .bind::<Nullable<Text>, _>(after)
        .bind::<BigInt, _>(fetch_limit(limit)),
    )
    .load(conn)
    .await
}

/// Invoices per tenant, for each of `tenant_ids`.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<(TenantId, i64)>> {
    invoices::table
        .filter(invoices::tenant_id.eq_any(tenant_ids))
        .group_by(invoices::tenant_id)
        .select((invoices::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// Applies an `invoice.*` event (`object` is the invoice): the tenant is found by customer,
/// the row written unless it reflects a later moment, and the effect audited (system actor,
/// the event id in the details). `Ok(Err(reason))` for an event that cannot be applied.
pub async fn sync_event(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    kind: &str,
    created: DateTime<Utc>,
    object: serde_json::Value,
) -> AppResult<Result<EventStatus, String>> {
    let invoice: InvoiceObject = match serde_json::from_value(object) {
        Ok(invoice) => invoice,
        Err(e) => return Ok(Err(format!("not an invoice: {e}"))),
    };
    let Some((tenant, partner)) = tenants::table
        .filter(tenants::stripe_customer_id.eq(&invoice.customer))
        .select((tenants::id, tenants::partner_id))
        .first::<(TenantId, Option<PartnerId>)>(conn)
        .await
        .optional()?
    else {
        return Ok(Ok(EventStatus::Ignored));
    };
    let fresh = match upsert(conn, tenant, &invoice, created).await? {
        Err(reason) => return Ok(Err(reason)),
        Ok(fresh) => fresh,
    };
    // The ledger goes by event (once per invoice or void), whatever order events arrive in.
    let paid = super::payouts::PaidInvoice {
        id: &invoice.id,
        currency: &invoice.currency,
        amount_paid: invoice.amount_paid,
    };
    let ledger =
        super::payouts::on_invoice_event(conn, event_id, kind, created, tenant, &paid).await?;
    if !fresh && !ledger {
        return Ok(Ok(EventStatus::Stale));
    }
    let entry = AuditEntry {
        action: "billing.invoice.sync",
        target_type: "invoice",
        target_id: Some(invoice.id.clone()),
        tenant_id: Some(tenant),
        partner_id: partner,
        outcome: Outcome::Success,
        details: json!({
            "event": event_id, "type": kind, "status": invoice.status, "number": invoice.number,
            "currency": invoice.currency.to_ascii_uppercase(), "amountDue": invoice.amount_due,
            "amountPaid": invoice.amount_paid, "ledger": ledger,
        }),
    };
    audit::record(conn, &Actor::default(), &entry).await?;
    Ok(Ok(EventStatus::Applied))
}

/// Copies Stripe's invoices of `tenant`'s customer (every page, newest first) into the table,
/// as read now; rows that already reflect a later moment stay.
pub async fn backfill(
    conn: &mut AsyncPgConnection,
    client: &dyn StripeClient,
    tenant: TenantId,
    customer: &str,
) -> Result<usize, String> {
    let mut after: Option<String> = None;
    let mut written = 0;
    for _ in 0..MAX_BACKFILL_PAGES {
        let request = ListInvoices {
            customer_id: customer.to_owned(),
            limit: 100,
            starting_after: after.clone(),
        };
        let page = client
            .list_invoices(&request)
            .await
            .map_err(|e| format!("stripe: {e}"))?;
        let now = Utc::now();
        for item in &page.items {
            let invoice = InvoiceObject::from_listed(item, customer);
            match upsert(conn, tenant, &invoice, now).await {
                Ok(Ok(true)) => written += 1,
                Ok(_) => {}
                Err(e) => return Err(format!("database: {e}")),
            }
        }
        after = page.items.last().map(|i| i.id.clone());
        if !page.has_more || after.is_none() {
            break;
        }
    }
    Ok(written)
}

/// Most pages a backfill follows (100 invoices each).
const MAX_BACKFILL_PAGES: usize = 50;

impl InvoiceObject {
    fn from_listed(i: &Invoice, customer: &str) -> Self {
        Self {
            id: i.id.clone(),
            customer: customer.to_owned(),
            status: i.status.clone(),
            number: i.number.clone(),
            currency: i.currency.clone(),
            total: i.total,
            amount_due: i.amount_due,
            amount_paid: i.amount_paid,
            created: i.created,
            period_start: i.period_start,
            period_end: i.period_end,
            due_date: i.due_date,
            hosted_invoice_url: i.hosted_invoice_url.clone(),
            invoice_pdf: i.invoice_pdf.clone(),
        }
    }
}
