//! The billing ledger (`payout_entries`): an entry for each paid invoice, each credit note
//! against a paid invoice, and each void of one — the revenue it moves and the partner's cut
//! of it ([`super::payout_math`] holds the one rounding rule). Entries are written once per
//! source (the invoice, the credit note, the void) by the webhook's job, so a replayed or
//! re-run event adds nothing. Tenants without a partner get entries with margin 0, so the
//! platform's figures and the partners' add up from the same rows.
//!
//! Refunds arrive as credit notes (`credit_note.created`, whose object names its invoice):
//! that is how Stripe takes money back from a paid invoice, and unlike a charge it carries
//! the invoice on every API version.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::json;

use super::payout_math::{cut, delta, margin_bp};
use super::stripe_events::EventStatus;
use crate::db::schema::{partners, payout_entries, tenants};
use crate::domain::audit::{self, Actor, AuditEntry, Outcome};
use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::page::fetch_limit;
use crate::error::{AppError, AppResult};

crate::text_enum! {
    /// What a ledger entry records.
    #[derive(async_graphql::Enum)]
    pub enum EntryKind {
        /// An invoice was paid: its revenue and the partner's cut.
        InvoicePaid = "invoice_paid",
        /// A credit note took part of a paid invoice back.
        CreditNote = "credit_note",
        /// A paid invoice was voided: all that is left of it is taken back.
        InvoiceVoided = "invoice_voided",
    }
}

/// A `payout_entries` row.
#[derive(Queryable, QueryableByName, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = payout_entries)]
pub struct EntryRow {
    /// Sequence (the cursor).
    pub id: i64,
    /// What it records.
    pub kind: EntryKind,
    /// `in_…`.
    pub stripe_invoice_id: String,
    /// The tenant billed.
    pub tenant_id: TenantId,
    /// The tenant's partner when the entry was written.
    pub partner_id: Option<PartnerId>,
    /// ISO 4217.
    pub currency: String,
    /// Revenue moved, minor units (negative for credit notes and voids).
    pub revenue_minor: i64,
    /// The partner's margin applied, basis points.
    pub margin_bp: i32,
    /// The partner's cut moved, minor units.
    pub partner_cut_minor: i64,
    /// When it happened (Stripe's event time).
    pub occurred_at: DateTime<Utc>,
}

/// What the ledger reads from an invoice event.
pub struct PaidInvoice<'a> {
    /// `in_…`.
    pub id: &'a str,
    /// Lower- or upper-case currency.
    pub currency: &'a str,
    /// Amount paid, minor units.
    pub amount_paid: i64,
}

struct NewEntry<'a> {
    source: String,
    kind: EntryKind,
    invoice: &'a str,
    tenant: TenantId,
    partner: Option<PartnerId>,
    currency: String,
    revenue: i64,
    margin: i32,
    cut: i64,
    at: DateTime<Utc>,
    event: &'a str,
}

async fn insert(conn: &mut AsyncPgConnection, e: NewEntry<'_>) -> AppResult<bool> {
    let written = diesel::insert_into(payout_entries::table)
        .values((
            payout_entries::source_id.eq(&e.source),
            payout_entries::kind.eq(e.kind),
            payout_entries::stripe_invoice_id.eq(e.invoice),
            payout_entries::tenant_id.eq(e.tenant),
            payout_entries::partner_id.eq(e.partner),
            payout_entries::currency.eq(&e.currency),
            payout_entries::revenue_minor.eq(e.revenue),
            payout_entries::margin_bp.eq(e.margin),
            payout_entries::partner_cut_minor.eq(e.cut),
            payout_entries::occurred_at.eq(e.at),
            payout_entries::stripe_event_id.eq(e.event),
        ))
        .on_conflict(payout_entries::source_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(written == 1)
}

/// The partner of `tenant` and its margin in basis points (0 without a partner).
async fn margin_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> AppResult<(Option<PartnerId>, i32)> {
    let found: Option<(Option<PartnerId>, Option<String>)> = tenants::table
        .left_join(partners::table)
        .filter(tenants::id.eq(tenant))
        .select((
            tenants::partner_id,
            diesel::dsl::sql::<Nullable<Text>>("partners.margin_pct::text"),
        ))
        .first(conn)
        .await
        .optional()?;
    match found {
        Some((Some(partner), Some(pct))) => {
            let bp = margin_bp(&pct).ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "partner margin {pct:?} is not a percentage"
                ))
            })?;
            Ok((Some(partner), bp))
        }
        _ => Ok((None, 0)),
    }
}

/// The paid entry of `invoice` (locked) and what is left of the invoice's revenue.
async fn paid_entry(
    conn: &mut AsyncPgConnection,
    invoice: &str,
) -> AppResult<Option<(EntryRow, i64)>> {
    let Some(paid) = payout_entries::table
        .filter(payout_entries::source_id.eq(invoice))
        .select(EntryRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let net: i64 = payout_entries::table
        .filter(payout_entries::stripe_invoice_id.eq(invoice))
        .select(diesel::dsl::sql::<BigInt>(
            "COALESCE(SUM(payout_entries.revenue_minor), 0)::bigint",
        ))
        .first(conn)
        .await?;
    Ok(Some((paid, net)))
}

/// The ledger side of `invoice.paid` and `invoice.voided` (other invoice events move no
/// money). Returns whether an entry was written.
pub async fn on_invoice_event(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    kind: &str,
    at: DateTime<Utc>,
    tenant: TenantId,
    invoice: &PaidInvoice<'_>,
) -> AppResult<bool> {
    let currency = invoice.currency.to_ascii_uppercase();
    match kind {
        "invoice.paid" if invoice.amount_paid > 0 => {
            let (partner, margin) = margin_of(conn, tenant).await?;
            insert(
                conn,
                NewEntry {
                    source: invoice.id.to_owned(),
                    kind: EntryKind::InvoicePaid,
                    invoice: invoice.id,
                    tenant,
                    partner,
                    currency,
                    revenue: invoice.amount_paid,
                    margin,
                    cut: cut(invoice.amount_paid, margin),
                    at,
                    event: event_id,
                },
            )
            .await
        }
        "invoice.voided" => {
            let Some((paid, net)) = paid_entry(conn, invoice.id).await? else {
                return Ok(false);
            };
            if net == 0 {
                return Ok(false);
            }
            insert(
                conn,
                NewEntry {
                    source: format!("void:{}", invoice.id),
                    kind: EntryKind::InvoiceVoided,
                    invoice: invoice.id,
                    tenant: paid.tenant_id,
                    partner: paid.partner_id,
                    currency: paid.currency,
                    revenue: -net,
                    margin: paid.margin_bp,
                    cut: delta(net, -net, paid.margin_bp),
                    at,
                    event: event_id,
                },
            )
            .await
        }
        _ => Ok(false),
    }
}

/// A credit note as Stripe sends it (only what is read).
#[derive(Debug, Deserialize)]
struct CreditNote {
    id: String,
    invoice: String,
    /// The amount credited, minor units.
    total: i64,
    currency: String,
}

/// Applies `credit_note.created`: against a paid invoice it takes back the amount credited
/// (at most what is left of the invoice) and the matching part of the partner's cut.
pub async fn on_credit_note(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    at: DateTime<Utc>,
    object: serde_json::Value,
) -> AppResult<Result<EventStatus, String>> {
    let note: CreditNote = match serde_json::from_value(object) {
        Ok(note) => note,
        Err(e) => return Ok(Err(format!("not a credit note: {e}"))),
    };
    let Some((paid, net)) = paid_entry(conn, &note.invoice).await? else {
        // Not a paid invoice we know: it lowers what is due, not what was earned.
        return Ok(Ok(EventStatus::Ignored));
    };
    if !note.currency.eq_ignore_ascii_case(&paid.currency) {
        return Ok(Err("the credit note's currency is not its invoice's".into()));
    }
    let credited = note.total.clamp(0, net.max(0));
    let written = insert(
        conn,
        NewEntry {
            source: note.id.clone(),
            kind: EntryKind::CreditNote,
            invoice: &note.invoice,
            tenant: paid.tenant_id,
            partner: paid.partner_id,
            currency: paid.currency.clone(),
            revenue: -credited,
            margin: paid.margin_bp,
            cut: delta(net, -credited, paid.margin_bp),
            at,
            event: event_id,
        },
    )
    .await?;
    if !written {
        return Ok(Ok(EventStatus::Ignored));
    }
    let entry = AuditEntry {
        action: "billing.credit_note.sync",
        target_type: "invoice",
        target_id: Some(note.invoice.clone()),
        tenant_id: Some(paid.tenant_id),
        partner_id: paid.partner_id,
        outcome: Outcome::Success,
        details: json!({
            "event": event_id, "creditNote": note.id, "creditedMinor": credited,
            "currency": paid.currency,
        }),
    };
    audit::record(conn, &Actor::default(), &entry).await?;
    Ok(Ok(EventStatus::Applied))
}

/// One forward page of each partner's entries, newest first, after entry `after` — one
/// statement for any number of partners.
pub async fn pages_by_partner(
    conn: &mut AsyncPgConnection,
    partner_ids: &[PartnerId],
    after: Option<i64>,
    limit: usize,
) -> QueryResult<Vec<EntryRow>> {
    diesel::sql_query(
        "SELECT id, kind, stripe_invoice_id, tenant_id, partner_id, currency, revenue_minor,
                margin_bp, partner_cut_minor, occurred_at
           FROM (SELECT e.*, row_number() OVER (PARTITION BY e.partner_id
                                 ORDER BY e.occurred_at DESC, e.id DESC) AS rn
                   FROM payout_entries e
                  WHERE e.partner_id = ANY($1)
                    AND ($2::bigint IS NULL OR (e.occurred_at, e.id) <
                         (SELECT c.occurred_at, c.id FROM payout_entries c WHERE c.id = $2))
                ) ranked
          WHERE rn <= $3
          ORDER BY partner_id, occurred_at DESC, id DESC",
    )
    .bind::<Array<SqlUuid>, _>(partner_ids)
    .bind::<Nullable<BigInt>, _>(after)
    .bind::<BigInt, _>(fetch_limit(limit))
    .load(conn)
    .await
}

/// Entries per partner, for each of `partner_ids`.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    partner_ids: &[PartnerId],
) -> QueryResult<Vec<(PartnerId, i64)>> {
    payout_entries::table
        .filter(payout_entries::partner_id.eq_any(partner_ids))
        .group_by(payout_entries::partner_id)
        .select((
            payout_entries::partner_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await
}

/// Sums of one currency of a ledger (`partner_id` null for the platform's figures).
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// The partner (null: the whole platform).
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub partner_id: Option<PartnerId>,
    /// ISO 4217.
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Revenue (paid less credited and voided), minor units.
    #[diesel(sql_type = BigInt)]
    pub revenue_minor: i64,
    /// The partners' cut, minor units.
    #[diesel(sql_type = BigInt)]
    pub partner_cut_minor: i64,
    /// Invoices open now that were created in the period.
    #[diesel(sql_type = BigInt)]
    pub open_count: i64,
    /// What those open invoices still ask for, minor units.
    #[diesel(sql_type = BigInt)]
    pub open_due_minor: i64,
}

/// Per partner (or, with `partner_ids` `None`, for the whole platform) and currency: the
/// ledger's sums over entries in `[from, to)`, and the invoices open now that were created in
/// it. One statement for any number of partners.
pub async fn summaries(
    conn: &mut AsyncPgConnection,
    partner_ids: Option<&[PartnerId]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<SummaryRow>> {
    diesel::sql_query(
        "WITH scope AS (
             SELECT t.id AS tenant_id, CASE WHEN $1::uuid[] IS NULL THEN NULL ELSE t.partner_id END AS partner_id
               FROM tenants t
              WHERE $1::uuid[] IS NULL OR t.partner_id = ANY($1)
         ), ledger AS (
             SELECT CASE WHEN $1::uuid[] IS NULL THEN NULL ELSE e.partner_id END AS partner_id,
                    e.currency, SUM(e.revenue_minor)::bigint AS revenue_minor,
                    SUM(e.partner_cut_minor)::bigint AS partner_cut_minor
               FROM payout_entries e
              WHERE ($1::uuid[] IS NULL OR e.partner_id = ANY($1))
                AND e.occurred_at >= $2 AND e.occurred_at < $3
              GROUP BY 1, 2
         ), open AS (
             SELECT s.partner_id, i.currency, COUNT(*)::bigint AS open_count,
                    SUM(i.amount_due_minor)::bigint AS open_due_minor
               FROM invoices i JOIN scope s ON s.tenant_id = i.tenant_id
              WHERE i.status = 'open' AND i.stripe_created >= $2 AND i.stripe_created < $3
              GROUP BY 1, 2
         )
         SELECT COALESCE(l.partner_id, o.partner_id) AS partner_id,
                COALESCE(l.currency, o.currency) AS currency,
                COALESCE(l.revenue_minor, 0) AS revenue_minor,
                COALESCE(l.partner_cut_minor, 0) AS partner_cut_minor,
                COALESCE(o.open_count, 0) AS open_count,
                COALESCE(o.open_due_minor, 0) AS open_due_minor
           FROM ledger l
           FULL JOIN open o ON o.partner_id IS NOT DISTINCT FROM l.partner_id
                           AND o.currency = l.currency
          ORDER BY 1, 2",
    )
    .bind::<Nullable<Array<SqlUuid>>, _>(partner_ids)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await
}
