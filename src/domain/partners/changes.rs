//! Creating and updating partners (operators only). Status moves are in [`super::status`].

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::{PartnerRow, PartnerStatus};
use crate::db::schema::partners;
use crate::domain::audit::AuditEntry;
use crate::domain::audit::change::{Caller, need};
use crate::domain::patch::Patch;
use crate::domain::values::{DomainName, JsonObject, MarginPct, Name, Slug};
use crate::error::{AppError, AppResult};

/// Input of `createPartner`.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Web domain.
    pub domain: Option<String>,
    /// Margin in percent (default 0).
    pub margin_pct: Option<f64>,
    /// Contact details.
    pub contact_info: Option<serde_json::Value>,
    /// Billing details.
    pub billing_info: Option<serde_json::Value>,
}

/// Input of `updatePartner`.
#[derive(Debug, Clone, Default)]
pub struct PartnerUpdate {
    /// Slug of the partner to change.
    pub partner: String,
    /// New name.
    pub name: Option<String>,
    /// New domain, or clear it.
    pub domain: Patch<String>,
    /// New margin.
    pub margin_pct: Option<f64>,
    /// New contact details (replaces the object).
    pub contact_info: Option<serde_json::Value>,
    /// New billing details (replaces the object).
    pub billing_info: Option<serde_json::Value>,
}

/// The partner `slug` for an operator's change, or `NOT_FOUND`; fills the audit entry.
pub(super) async fn partner_by_slug(
    conn: &mut AsyncPgConnection,
    slug: &str,
    audit: &mut AuditEntry,
) -> AppResult<PartnerRow> {
    let row = super::by_slug(conn, slug)
        .await?
        .ok_or(AppError::NotFound { what: "partner" })?;
    audit.partner_id = Some(row.id);
    Ok(row)
}

/// The text form of a margin, cast to numeric in SQL.
fn margin_sql(margin: &MarginPct) -> diesel::expression::SqlLiteral<diesel::sql_types::Numeric> {
    // The value was produced by `MarginPct::parse` ("12.50"), never by the client verbatim.
    diesel::dsl::sql::<diesel::sql_types::Numeric>(&format!("{}::numeric", margin.as_str()))
}

/// `createPartner` (operators).
pub async fn create(caller: &Caller, input: NewPartner) -> AppResult<PartnerRow> {
    caller
        .change("partner.create", "partner")
        .target(input.slug.clone())
        .run(need::operator(), async move |tx, ()| {
            let slug = Slug::parse(&input.slug, "input.slug")?;
            let name = Name::parse(&input.name, "input.name")?;
            let domain = input.domain.as_deref().map(|d| DomainName::parse(d, "input.domain")).transpose()?;
            let margin = MarginPct::parse(input.margin_pct.unwrap_or(0.0), "input.marginPct")?;
            let contact = JsonObject::parse(input.contact_info.unwrap_or_else(|| json!({})), "input.contactInfo")?;
            let billing = JsonObject::parse(input.billing_info.unwrap_or_else(|| json!({})), "input.billingInfo")?;
            let row: PartnerRow = diesel::insert_into(partners::table)
                .values((
                    partners::slug.eq(slug.as_str()),
                    partners::name.eq(name.as_str()),
                    partners::domain.eq(domain.as_ref().map(DomainName::as_str)),
                    partners::margin_pct.eq(margin_sql(&margin)),
                    partners::contact_info.eq(contact.value()),
                    partners::billing_info.eq(billing.value()),
                ))
                .returning(PartnerRow::as_returning())
                .get_result(tx.conn)
                .await
                .map_err(|e| match &e {
                    DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
                        if info.constraint_name() == Some("partners_slug_key") =>
                    {
                        AppError::Conflict("a partner with this slug already exists".into())
                    }
                    _ => e.into(),
                })?;
            tx.audit.partner_id = Some(row.id);
            // Contact and billing details are not copied into the log.
            tx.audit.details = json!({ "slug": row.slug, "name": row.name, "domain": row.domain, "marginPct": row.margin_pct });
            Ok(row)
        })
        .await
}

/// `updatePartner` (operators).
pub async fn update(caller: &Caller, input: PartnerUpdate) -> AppResult<PartnerRow> {
    caller
        .change("partner.update", "partner")
        .target(input.partner.clone())
        .run(need::operator(), async move |tx, ()| {
            let conn = tx.conn;
            let current = partner_by_slug(conn, &input.partner, tx.audit).await?;
            if current.status == PartnerStatus::Terminated {
                return Err(AppError::bad_input(
                    "input.partner",
                    "the partner is terminated, so it cannot be changed",
                ));
            }
            let mut details = serde_json::Map::new();
            let name = input
                .name
                .as_deref()
                .map(|n| Name::parse(n, "input.name"))
                .transpose()?;
            let domain = match &input.domain {
                Patch::Keep => None,
                Patch::Clear => Some(None),
                Patch::Set(d) => Some(Some(DomainName::parse(d, "input.domain")?)),
            };
            let margin = input
                .margin_pct
                .map(|m| MarginPct::parse(m, "input.marginPct"))
                .transpose()?;
            let contact = input
                .contact_info
                .clone()
                .map(|c| JsonObject::parse(c, "input.contactInfo"))
                .transpose()?;
            let billing = input
                .billing_info
                .clone()
                .map(|b| JsonObject::parse(b, "input.billingInfo"))
                .transpose()?;
            if let Some(n) = &name {
                details.insert(
                    "name".into(),
                    json!({ "from": current.name, "to": n.as_str() }),
                );
            }
            if let Some(d) = &domain {
                details.insert(
                    "domain".into(),
                    json!({ "from": current.domain, "to": d.as_ref().map(DomainName::as_str) }),
                );
            }
            if let Some(m) = &margin {
                details.insert(
                    "marginPct".into(),
                    json!({ "from": current.margin_pct, "to": m.as_str() }),
                );
            }
            if contact.is_some() {
                details.insert("contactInfo".into(), json!("changed"));
            }
            if billing.is_some() {
                details.insert("billingInfo".into(), json!("changed"));
            }
            if details.is_empty() {
                return Err(AppError::bad_input("input", "nothing to change"));
            }
            tx.audit.details = serde_json::Value::Object(details);
            let target = partners::table.find(current.id);
            if let Some(n) = &name {
                diesel::update(target)
                    .set(partners::name.eq(n.as_str()))
                    .execute(conn)
                    .await?;
            }
            if let Some(d) = &domain {
                diesel::update(target)
                    .set(partners::domain.eq(d.as_ref().map(DomainName::as_str)))
                    .execute(conn)
                    .await?;
            }
            if let Some(m) = &margin {
                diesel::update(target)
                    .set(partners::margin_pct.eq(margin_sql(m)))
                    .execute(conn)
                    .await?;
            }
            if let Some(c) = &contact {
                diesel::update(target)
                    .set(partners::contact_info.eq(c.value()))
                    .execute(conn)
                    .await?;
            }
            if let Some(b) = &billing {
                diesel::update(target)
                    .set(partners::billing_info.eq(b.value()))
                    .execute(conn)
                    .await?;
            }
            Ok(partners::table
                .find(current.id)
                .select(PartnerRow::as_select())
                .first(conn)
                .await?)
        })
        .await
}
