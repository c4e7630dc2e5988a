//! Reports in the graph: `partnerReport` (the partner's staff, operators) and
//! `platformReport` (operators), over the report statements of `crate::domain::reports`;
//! saved reports in [`saved`].

pub mod saved;
pub mod types;

use async_graphql::{Context, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, PartnerAccess};
use crate::db::DbPool;
use crate::domain::partners;
use crate::domain::reports::{Period, Scope};
use crate::error::{ApiResult, AppError};
use crate::graphql::context::operator;
use types::{PartnerReport, PlatformReport};

/// A span of time for a report: `[from, to)`. Both default (the current calendar month and
/// the eleven before it, up to now); at most 120 months.
#[derive(InputObject, Default)]
pub struct ReportPeriodInput {
    /// Start (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive).
    pub to: Option<DateTime<Utc>>,
}

fn period(input: Option<ReportPeriodInput>) -> ApiResult<Period> {
    let input = input.unwrap_or_default();
    Ok(Period::parse(input.from, input.to, Utc::now(), "period")?)
}

/// Report queries.
#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// A partner's reports: health cohorts, revenue by plan, top customers, signup and churn
    /// cohorts. The partner's staff and operators; anyone else gets `NOT_FOUND` for a partner
    /// they cannot see and `FORBIDDEN` for one they see as a customer.
    async fn partner_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] partner: String,
        #[graphql(desc = "The months of the cohorts (default: the last 12).")] period: Option<
            ReportPeriodInput,
        >,
    ) -> ApiResult<PartnerReport> {
        let viewer = ctx.viewer().await?;
        let period = self::period(period)?;
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
        Ok(PartnerReport {
            scope: Scope::Partner(row.id),
            period,
            partner: row,
        })
    }

    /// The platform's reports (operators): MRR, revenue by plan, top tenants and growth per
    /// month, money always per currency.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn platform_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The months of `growth` (default: the last 12).")] period: Option<
            ReportPeriodInput,
        >,
    ) -> ApiResult<PlatformReport> {
        operator(ctx).await?;
        Ok(PlatformReport {
            period: self::period(period)?,
        })
    }
}
