//! `saveReport`, `savedReports` and `deleteSavedReport`.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, PartnerAccess};
use crate::db::DbPool;
use crate::domain::partners;
use crate::domain::reports::saved::{self, NewReport, ReportKind, SavedReportRow};
use crate::error::{ApiResult, AppError};
use crate::graphql::context::caller;

/// A named report of a partner (see the `#[Object]` block).
pub struct SavedReport(pub SavedReportRow);

/// A report a partner saved: its kind and parameters, to run again with `partnerReport`.
#[Object]
impl SavedReport {
    /// Its id (a UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Its name (unique per partner).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Which report.
    async fn kind(&self) -> ReportKind {
        self.0.kind
    }

    /// Its parameters, as saved (a JSON object, e.g. `{"period": {"from": …}, "first": 5}`).
    async fn parameters(&self) -> Json<serde_json::Value> {
        Json(self.0.parameters.clone())
    }

    /// When it was saved.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `saveReport`.
#[derive(InputObject)]
pub struct SaveReportInput {
    /// The partner's slug.
    pub partner: String,
    /// A name, 1–100 characters, unique within the partner.
    pub name: String,
    /// Which report.
    pub kind: ReportKind,
    /// Its parameters: a JSON object of at most 4 KiB (default `{}`).
    pub parameters: Option<Json<serde_json::Value>>,
}

/// The report saved.
#[derive(SimpleObject)]
pub struct SaveReportPayload {
    /// The saved report.
    pub report: SavedReport,
}

/// Input of `deleteSavedReport`.
#[derive(InputObject)]
pub struct DeleteSavedReportInput {
    /// The saved report's id.
    pub id: ID,
}

/// The report deleted.
#[derive(SimpleObject)]
pub struct DeleteSavedReportPayload {
    /// The report as it was.
    pub report: SavedReport,
}

/// Saved report queries.
#[derive(Default)]
pub struct SavedReportQuery;

#[Object]
impl SavedReportQuery {
    /// A partner's saved reports, by name. The partner's staff and operators (`NOT_FOUND` for
    /// a partner the caller cannot see, `FORBIDDEN` for one they see as a customer).
    async fn saved_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] partner: String,
    ) -> ApiResult<Vec<SavedReport>> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let row = partners::by_slug(&mut conn, &partner).await?;
        let access = row
            .as_ref()
            .map_or(PartnerAccess::None, |p| viewer.partner_access(p.id));
        let Some(row) = row.filter(|_| access.sees()) else {
            return Err(AppError::NotFound { what: "partner" }.into());
        };
        if access < PartnerAccess::Staff {
            return Err(AppError::Forbidden("the partner's staff only".into()).into());
        }
        let rows = saved::list(&mut conn, row.id).await?;
        Ok(rows.into_iter().map(SavedReport).collect())
    }
}

/// Saved report mutations.
#[derive(Default)]
pub struct SavedReportMutation;

#[Object]
impl SavedReportMutation {
    /// Saves a named report for a partner (its staff, operators). Audited as `report.save`.
    async fn save_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report.")] input: SaveReportInput,
    ) -> ApiResult<SaveReportPayload> {
        let report = NewReport {
            partner: input.partner,
            name: input.name,
            kind: input.kind,
            parameters: input
                .parameters
                .map_or_else(|| serde_json::json!({}), |j| j.0),
        };
        let row = saved::save(&caller(ctx).await?, report).await?;
        Ok(SaveReportPayload {
            report: SavedReport(row),
        })
    }

    /// Deletes a saved report (staff of its partner, operators). Audited as `report.delete`.
    async fn delete_saved_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which report.")] input: DeleteSavedReportInput,
    ) -> ApiResult<DeleteSavedReportPayload> {
        let id = uuid::Uuid::parse_str(&input.id)
            .map_err(|_| AppError::bad_input("input.id", "not a saved report id"))?;
        let row = saved::delete(&caller(ctx).await?, id).await?;
        Ok(DeleteSavedReportPayload {
            report: SavedReport(row),
        })
    }
}
