//! Saved reports: a named partner report (its kind and parameters), per partner. Partner
//! staff save, list and delete their partner's; operators any partner's. Audited as
//! `report.save` and `report.delete`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::PartnerAccess;
use crate::db::schema::saved_reports;
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::{PartnerId, UserId};
use crate::error::{AppError, AppResult};

/// The most saved reports a partner keeps.
pub const MAX_PER_PARTNER: i64 = 100;

crate::text_enum! {
    /// Which report.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "ReportKind")]
    pub enum ReportKind {
        /// Tenants per health band.
        HealthCohorts = "health_cohorts",
        /// MRR per plan and currency.
        RevenueByPlan = "revenue_by_plan",
        /// Customers by MRR.
        TopCustomers = "top_customers",
        /// Tenants created per month.
        SignupCohorts = "signup_cohorts",
        /// Tenants terminated per month.
        ChurnCohorts = "churn_cohorts",
    }
}

/// A saved report.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = saved_reports)]
pub struct SavedReportRow {
    /// Primary key.
    pub id: Uuid,
    /// Its partner.
    pub partner_id: PartnerId,
    /// Its name (unique per partner).
    pub name: String,
    /// Which report.
    pub kind: ReportKind,
    /// Its parameters (a JSON object: `period`, `first`, …).
    pub parameters: serde_json::Value,
    /// Who saved it.
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What to save.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The partner's slug.
    pub partner: String,
    /// A name, 1–100 characters after trimming.
    pub name: String,
    /// Which report.
    pub kind: ReportKind,
    /// A JSON object (at most 4 KiB).
    pub parameters: serde_json::Value,
}

/// `saveReport`: staff of the partner or operators; a name already used by the partner is
/// `CONFLICT`.
pub async fn save(caller: &Caller, report: NewReport) -> AppResult<SavedReportRow> {
    let slug = report.partner.clone();
    caller
        .change("report.save", "saved_report")
        .run(
            need::partner(&slug, PartnerAccess::Staff),
            async move |tx, partner| {
                let name = report.name.trim().to_owned();
                if name.is_empty()
                    || name.chars().count() > 100
                    || name.chars().any(char::is_control)
                {
                    return Err(AppError::bad_input(
                        "input.name",
                        "a name of 1 to 100 characters, no control characters",
                    ));
                }
                if !report.parameters.is_object() {
                    return Err(AppError::bad_input(
                        "input.parameters",
                        "must be a JSON object",
                    ));
                }
                if report.parameters.to_string().len() > 4096 {
                    return Err(AppError::bad_input("input.parameters", "at most 4 KiB"));
                }
                let existing: i64 = saved_reports::table
                    .filter(saved_reports::partner_id.eq(partner.id))
                    .count()
                    .get_result(tx.conn)
                    .await?;
                if existing >= MAX_PER_PARTNER {
                    return Err(AppError::Conflict(format!(
                        "a partner keeps at most {MAX_PER_PARTNER} saved reports"
                    )));
                }
                let row: Option<SavedReportRow> = diesel::insert_into(saved_reports::table)
                    .values((
                        saved_reports::partner_id.eq(partner.id),
                        saved_reports::name.eq(&name),
                        saved_reports::kind.eq(report.kind),
                        saved_reports::parameters.eq(&report.parameters),
                        saved_reports::created_by.eq(tx.viewer.user_id),
                    ))
                    .on_conflict_do_nothing()
                    .returning(SavedReportRow::as_returning())
                    .get_result(tx.conn)
                    .await
                    .optional()?;
                let row = row.ok_or_else(|| {
                    AppError::Conflict(format!("a saved report named `{name}` exists"))
                })?;
                tx.audit.target_id = Some(row.id.to_string());
                tx.audit.details = serde_json::json!({ "name": name, "kind": report.kind });
                Ok(row)
            },
        )
        .await
}

/// `deleteSavedReport`: staff of its partner or operators; one they cannot see is `NOT_FOUND`.
pub async fn delete(caller: &Caller, id: Uuid) -> AppResult<SavedReportRow> {
    caller
        .change("report.delete", "saved_report")
        .target(id.to_string())
        .run(SavedReport(id), async move |tx, row: SavedReportRow| {
            diesel::delete(saved_reports::table.find(row.id))
                .execute(tx.conn)
                .await?;
            tx.audit.details = serde_json::json!({ "name": row.name, "kind": row.kind });
            Ok(row)
        })
        .await
}

/// A saved report the caller may change (staff of its partner, or an operator).
struct SavedReport(Uuid);

impl crate::domain::audit::change::Need for SavedReport {
    type Target = SavedReportRow;

    async fn resolve(
        self,
        conn: &mut AsyncPgConnection,
        viewer: &crate::auth::Viewer,
        audit: &mut crate::domain::audit::AuditEntry,
    ) -> AppResult<SavedReportRow> {
        let row: Option<SavedReportRow> = saved_reports::table
            .find(self.0)
            .select(SavedReportRow::as_select())
            .first(conn)
            .await
            .optional()?;
        match row {
            Some(row) if viewer.partner_access(row.partner_id) >= PartnerAccess::Staff => {
                audit.partner_id = Some(row.partner_id);
                Ok(row)
            }
            _ => Err(audit.deny(AppError::NotFound {
                what: "saved report",
            })),
        }
    }
}

/// The partner's saved reports, by name.
pub async fn list(
    conn: &mut AsyncPgConnection,
    partner: PartnerId,
) -> AppResult<Vec<SavedReportRow>> {
    Ok(saved_reports::table
        .filter(saved_reports::partner_id.eq(partner))
        .order(saved_reports::name)
        .select(SavedReportRow::as_select())
        .load(conn)
        .await?)
}
