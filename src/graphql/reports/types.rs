//! The report objects: each field is one report, computed only when selected.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::DbPool;
use crate::domain::health::Band;
use crate::domain::partners::PartnerRow;
use crate::domain::reports::queries::{self, CurrencyMrr, MonthCohort, PlanRevenue, TopCustomer};
use crate::domain::reports::{Period, Scope};
use crate::error::{ApiResult, AppError};
use crate::graphql::scalars::Long;

/// The most customers `topCustomers` lists per currency.
const MAX_TOP: i32 = 100;

fn top_first(first: i32) -> ApiResult<i64> {
    if (1..=MAX_TOP).contains(&first) {
        Ok(i64::from(first))
    } else {
        Err(AppError::bad_input("first", "must be between 1 and 100").into())
    }
}

/// A partner's reports.
pub struct PartnerReport {
    pub(super) scope: Scope,
    pub(super) period: Period,
    pub(super) partner: PartnerRow,
}

/// A partner's reports (each computed when selected).
#[Object]
impl PartnerReport {
    /// The partner's slug.
    async fn partner_slug(&self) -> &str {
        &self.partner.slug
    }

    /// The period of the cohorts.
    async fn period(&self) -> ReportPeriod {
        self.period.into()
    }

    /// The partner's tenants (not terminated) per health band, every band listed.
    async fn health_cohorts(&self, ctx: &Context<'_>) -> ApiResult<Vec<HealthCohort>> {
        health_cohorts(ctx, self.scope).await
    }

    /// Monthly recurring revenue per plan and currency (paying subscriptions).
    async fn revenue_by_plan(&self, ctx: &Context<'_>) -> ApiResult<Vec<PlanRevenueLine>> {
        revenue_by_plan(ctx, self.scope).await
    }

    /// The customers with the highest MRR, `first` per currency.
    async fn top_customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many per currency (default 10, at most 100).",
            default = 10
        )]
        first: i32,
    ) -> ApiResult<Vec<TopCustomerLine>> {
        top_customers(ctx, self.scope, first).await
    }

    /// Tenants created and terminated per month of the period (every month listed).
    async fn cohorts(&self, ctx: &Context<'_>) -> ApiResult<Vec<MonthCohortLine>> {
        cohorts(ctx, self.scope, &self.period).await
    }
}

/// The platform's reports (operators).
pub struct PlatformReport {
    pub(super) period: Period,
}

/// The platform's reports (each computed when selected).
#[Object]
impl PlatformReport {
    /// The period of `growth`.
    async fn period(&self) -> ReportPeriod {
        self.period.into()
    }

    /// Monthly recurring revenue per currency (paying subscriptions; never summed across
    /// currencies).
    async fn mrr(&self, ctx: &Context<'_>) -> ApiResult<Vec<MrrLine>> {
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = queries::mrr(&mut conn, Scope::Platform).await?;
        Ok(rows.into_iter().map(MrrLine::from).collect())
    }

    /// Monthly recurring revenue per plan and currency.
    async fn revenue_by_plan(&self, ctx: &Context<'_>) -> ApiResult<Vec<PlanRevenueLine>> {
        revenue_by_plan(ctx, Scope::Platform).await
    }

    /// The tenants with the highest MRR, `first` per currency.
    async fn top_tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many per currency (default 10, at most 100).",
            default = 10
        )]
        first: i32,
    ) -> ApiResult<Vec<TopCustomerLine>> {
        top_customers(ctx, Scope::Platform, first).await
    }

    /// Tenants created, terminated and the net per month of the period.
    async fn growth(&self, ctx: &Context<'_>) -> ApiResult<Vec<MonthCohortLine>> {
        cohorts(ctx, Scope::Platform, &self.period).await
    }

    /// All tenants (not terminated) per health band.
    async fn health_cohorts(&self, ctx: &Context<'_>) -> ApiResult<Vec<HealthCohort>> {
        health_cohorts(ctx, Scope::Platform).await
    }
}

async fn revenue_by_plan(ctx: &Context<'_>, scope: Scope) -> ApiResult<Vec<PlanRevenueLine>> {
    let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
    let rows = queries::revenue_by_plan(&mut conn, scope).await?;
    Ok(rows.into_iter().map(PlanRevenueLine::from).collect())
}

async fn top_customers(
    ctx: &Context<'_>,
    scope: Scope,
    first: i32,
) -> ApiResult<Vec<TopCustomerLine>> {
    let first = top_first(first)?;
    let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
    let rows = queries::top_customers(&mut conn, scope, first).await?;
    Ok(rows.into_iter().map(TopCustomerLine::from).collect())
}

async fn cohorts(
    ctx: &Context<'_>,
    scope: Scope,
    period: &Period,
) -> ApiResult<Vec<MonthCohortLine>> {
    let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
    let rows = queries::cohorts(&mut conn, scope, period).await?;
    Ok(rows.into_iter().map(MonthCohortLine::from).collect())
}

async fn health_cohorts(ctx: &Context<'_>, scope: Scope) -> ApiResult<Vec<HealthCohort>> {
    let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
    let cohorts = queries::health_cohorts(&mut conn, scope).await?;
    Ok(cohorts
        .into_iter()
        .map(|c| HealthCohort {
            band: c.band,
            count: c.tenants.len() as i32,
            tenants: c
                .tenants
                .into_iter()
                .map(|(slug, name, h)| CohortTenant {
                    slug,
                    name,
                    score: h.health.score,
                })
                .collect(),
        })
        .collect())
}

/// The period a report covers: `[from, to)`.
#[derive(SimpleObject)]
pub struct ReportPeriod {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl From<Period> for ReportPeriod {
    fn from(p: Period) -> Self {
        Self {
            from: p.from,
            to: p.to,
        }
    }
}

/// The tenants of one health band.
#[derive(SimpleObject)]
pub struct HealthCohort {
    /// The band.
    pub band: Band,
    /// How many tenants.
    pub count: i32,
    /// The tenants, lowest score first.
    pub tenants: Vec<CohortTenant>,
}

/// A tenant in a health cohort.
#[derive(SimpleObject)]
pub struct CohortTenant {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Its health score.
    pub score: i32,
}

/// MRR of one plan in one currency.
#[derive(SimpleObject)]
pub struct PlanRevenueLine {
    /// The plan's key.
    pub plan: String,
    /// ISO currency.
    pub currency: String,
    /// Paying subscriptions on it.
    pub subscriptions: i32,
    /// Their monthly recurring revenue, minor units of `currency`.
    pub mrr_minor: Long,
}

impl From<PlanRevenue> for PlanRevenueLine {
    fn from(r: PlanRevenue) -> Self {
        Self {
            plan: r.plan,
            currency: r.currency,
            subscriptions: i32::try_from(r.subscriptions).unwrap_or(i32::MAX),
            mrr_minor: Long(r.mrr_minor),
        }
    }
}

/// MRR in one currency.
#[derive(SimpleObject)]
pub struct MrrLine {
    /// ISO currency.
    pub currency: String,
    /// Monthly recurring revenue, minor units of `currency`.
    pub mrr_minor: Long,
}

impl From<CurrencyMrr> for MrrLine {
    fn from(r: CurrencyMrr) -> Self {
        Self {
            currency: r.currency,
            mrr_minor: Long(r.mrr_minor),
        }
    }
}

/// A customer and its MRR in one currency.
#[derive(SimpleObject)]
pub struct TopCustomerLine {
    /// The tenant's slug.
    pub slug: String,
    /// The tenant's name.
    pub name: String,
    /// ISO currency.
    pub currency: String,
    /// Monthly recurring revenue, minor units of `currency`.
    pub mrr_minor: Long,
}

impl From<TopCustomer> for TopCustomerLine {
    fn from(r: TopCustomer) -> Self {
        Self {
            slug: r.slug,
            name: r.name,
            currency: r.currency,
            mrr_minor: Long(r.mrr_minor),
        }
    }
}

/// Tenants created and terminated in one month.
#[derive(SimpleObject)]
pub struct MonthCohortLine {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Tenants created.
    pub signups: i32,
    /// Tenants terminated.
    pub churned: i32,
    /// `signups - churned`.
    pub net: i32,
}

impl From<MonthCohort> for MonthCohortLine {
    fn from(r: MonthCohort) -> Self {
        let signups = i32::try_from(r.signups).unwrap_or(i32::MAX);
        let churned = i32::try_from(r.churned).unwrap_or(i32::MAX);
        Self {
            month: r.month,
            signups,
            churned,
            net: signups - churned,
        }
    }
}
