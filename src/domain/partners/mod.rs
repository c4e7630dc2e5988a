//! Partners (resellers): their row, status and staff levels, and the reads, with the viewer's
//! scope applied in SQL. Changes are in [`changes`] and [`status`].

pub mod changes;
pub mod settings;
pub mod staff;
pub mod status;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::auth::{Scope, Viewer};
use crate::db::cached;
use crate::db::schema::partners;
use crate::domain::ids::{ByIds, PartnerId};
use crate::domain::page::{Direction, PageRequest, like_pattern};
use crate::error::{AppError, AppResult};

crate::text_enum! {
    /// Lifecycle state of a partner. Partners are never deleted.
    #[derive(async_graphql::Enum)]
    pub enum PartnerStatus {
        /// Selling and managing tenants.
        Active = "active",
        /// Temporarily barred.
        Suspended = "suspended",
        /// Ended; kept for the record.
        Terminated = "terminated",
    }
}

crate::text_enum! {
    /// A partner staff member's level.
    #[derive(async_graphql::Enum)]
    pub enum AccessLevel {
        /// Manages the partner and its staff.
        Admin = "admin",
        /// Works with the partner's tenants.
        Member = "member",
    }
}

/// The `partners` columns the graph reads. `margin_pct` is read as text (numeric(5,2)),
/// so it stays exact.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = partners)]
pub struct PartnerRow {
    /// Primary key.
    pub id: PartnerId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// The partner's own domain.
    pub domain: Option<String>,
    /// Lifecycle state.
    pub status: PartnerStatus,
    /// Margin in percent, e.g. `12.50`.
    #[diesel(select_expression = diesel::dsl::sql::<diesel::sql_types::Text>("partners.margin_pct::text"))]
    #[diesel(select_expression_type = diesel::expression::SqlLiteral<diesel::sql_types::Text>)]
    pub margin_pct: String,
    /// Contact details (JSON object).
    pub contact_info: serde_json::Value,
    /// Billing details (JSON object).
    pub billing_info: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ByIds for PartnerRow {
    type Id = PartnerId;

    fn id(&self) -> PartnerId {
        self.id
    }

    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[PartnerId]) -> QueryResult<Vec<Self>> {
        cached(
            partners::table
                .filter(partners::id.eq_any(ids))
                .select(Self::as_select()),
        )
        .load(conn)
        .await
    }
}

/// The partner `slug`, unscoped (callers apply the access policy).
pub async fn by_slug(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<PartnerRow>> {
    partners::table
        .filter(partners::slug.eq(slug))
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The partner `slug` if the viewer may see it, else `NOT_FOUND`.
pub async fn visible_by_slug(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<PartnerRow> {
    by_slug(conn, slug)
        .await?
        .filter(|p| viewer.partner_access(p.id).sees())
        .ok_or(AppError::NotFound { what: "partner" })
}

/// Filters of the `partners` list.
#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    /// Only this status.
    pub status: Option<PartnerStatus>,
    /// Case-insensitive substring of the name, slug or domain.
    pub search: Option<String>,
}

/// The partners `scope` may see (the SQL form of [`Viewer::partner_access`]`.sees()`): its
/// staff, and the active members of its tenants.
pub fn scoped(scope: &Scope) -> partners::BoxedQuery<'static, diesel::pg::Pg> {
    let query = partners::table.into_boxed();
    match scope {
        Scope::All => query,
        Scope::Limited(sets) => {
            let mut visible = sets.staff_of.clone();
            visible.extend(sets.customer_of.iter().copied());
            query.filter(partners::id.eq_any(visible))
        }
    }
}

fn filtered(
    scope: &Scope,
    filter: &PartnerFilter,
) -> partners::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = scoped(scope);
    if let Some(status) = filter.status {
        query = query.filter(partners::status.eq(status));
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        query = query.filter(
            partners::name
                .ilike(pattern.clone())
                .or(partners::slug.ilike(pattern.clone()))
                .or(partners::domain.ilike(pattern)),
        );
    }
    query
}

/// One page of the partners the viewer may see, by slug (`limit + 1` rows).
pub async fn page(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &PartnerFilter,
    page: &PageRequest<String>,
) -> QueryResult<Vec<PartnerRow>> {
    let mut query = filtered(&viewer.scope(), filter).select(PartnerRow::as_select());
    query = match (page.direction, &page.cursor) {
        (Direction::Forward, Some(after)) => query.filter(partners::slug.gt(after.clone())),
        (Direction::Backward, Some(before)) => query.filter(partners::slug.lt(before.clone())),
        _ => query,
    };
    let query = match page.direction {
        Direction::Forward => query.order(partners::slug.asc()),
        Direction::Backward => query.order(partners::slug.desc()),
    };
    query.limit(page.fetch()).load(conn).await
}

/// How many partners the viewer may see match `filter`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &PartnerFilter,
) -> QueryResult<i64> {
    filtered(&viewer.scope(), filter)
        .count()
        .get_result(conn)
        .await
}

/// Monthly recurring revenue per partner and currency: the partner's tenants' paying
/// subscriptions ([`crate::domain::billing::SubscriptionStatus::PAYING`]), yearly prices counted as a twelfth
/// (rounded to the nearest minor unit).
#[derive(diesel::QueryableByName, Debug, Clone)]
pub struct MrrRow {
    /// The partner.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub partner_id: PartnerId,
    /// ISO currency.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    /// Monthly amount in minor units.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub amount_minor: i64,
}

/// [`MrrRow`]s for each of `ids`, in one statement (over `mrr_totals`, see
/// [`crate::domain::reports::mrr`]).
pub async fn mrr(conn: &mut AsyncPgConnection, ids: &[PartnerId]) -> QueryResult<Vec<MrrRow>> {
    use diesel::sql_types::{Array, Uuid};
    diesel::sql_query(
        "SELECT partner_id, currency, sum(mrr_minor)::bigint AS amount_minor
           FROM mrr_totals
          WHERE partner_id = ANY($1)
          GROUP BY partner_id, currency
          ORDER BY partner_id, currency",
    )
    .bind::<Array<Uuid>, _>(ids)
    .load(conn)
    .await
}
