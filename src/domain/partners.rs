//! Partners: lookups with the viewer's scope applied.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::cached;
use crate::db::models::PartnerRow;
use crate::db::schema::partners;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{Direction, PageRequest};

/// The partner `slug` if the viewer may see it (operators and its staff), else `NOT_FOUND`.
pub async fn visible_by_slug(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<PartnerRow> {
    let row = partners::table
        .filter(partners::slug.eq(slug))
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?;
    visible(viewer, row)
}

/// The partner `id` if the viewer may see it, else `NOT_FOUND`.
pub async fn visible_by_id(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<PartnerRow> {
    let row = partners::table
        .find(id)
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?;
    visible(viewer, row)
}

fn visible(viewer: &Viewer, row: Option<PartnerRow>) -> AppResult<PartnerRow> {
    row.filter(|p| viewer.can_see_partner(p.id))
        .ok_or(AppError::NotFound { what: "partner" })
}

/// Filters of the `partners` list.
#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    /// Only this status (database value).
    pub status: Option<&'static str>,
    /// Case-insensitive substring of the name, slug or domain.
    pub search: Option<String>,
}

fn scoped(
    viewer: &Viewer,
    filter: &PartnerFilter,
) -> partners::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = partners::table.into_boxed();
    if !viewer.is_operator() {
        let staff_of: Vec<Uuid> = viewer.partner_roles.iter().map(|r| r.partner_id).collect();
        query = query.filter(partners::id.eq_any(staff_of));
    }
    if let Some(status) = filter.status {
        query = query.filter(partners::status.eq(status));
    }
    if let Some(search) = &filter.search {
        let pattern = crate::domain::tenants::like_pattern(search);
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
    let mut query = scoped(viewer, filter).select(PartnerRow::as_select());
    query = match (page.direction, &page.cursor) {
        (Direction::Forward, Some(after)) => query.filter(partners::slug.gt(after.clone())),
        (Direction::Backward, Some(before)) => query.filter(partners::slug.lt(before.clone())),
        _ => query,
    };
    let query = match page.direction {
        Direction::Forward => query.order(partners::slug.asc()),
        Direction::Backward => query.order(partners::slug.desc()),
    };
    query
        .limit(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
        .load(conn)
        .await
}

/// How many partners the viewer may see match `filter`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &PartnerFilter,
) -> QueryResult<i64> {
    scoped(viewer, filter).count().get_result(conn).await
}

/// Partners by id (no scope: callers reach them through a visible tenant).
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<PartnerRow>> {
    cached(
        partners::table
            .filter(partners::id.eq_any(ids))
            .select(PartnerRow::as_select()),
    )
    .load(conn)
    .await
}

/// Tenants per partner, for each of `ids` (without `terminated` ones when
/// `customers_only`: the customer count).
pub async fn customer_counts(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    customers_only: bool,
) -> QueryResult<Vec<(Uuid, i64)>> {
    use crate::db::schema::tenants;
    // Terminated tenants never match when only customers count.
    let excluded = if customers_only { "terminated" } else { "" };
    tenants::table
        .filter(tenants::partner_id.eq_any(ids))
        .filter(tenants::status.ne(excluded))
        .group_by(tenants::partner_id)
        .select((
            tenants::partner_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await
}

/// Monthly recurring revenue per partner and currency: the partner's tenants' paying
/// subscriptions (`active`, `trialing`, `past_due`), yearly prices counted as a twelfth
/// (rounded to the nearest minor unit).
#[derive(diesel::QueryableByName, Debug, Clone)]
pub struct MrrRow {
    /// The partner.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub partner_id: Uuid,
    /// ISO currency.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    /// Monthly amount in minor units.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub amount_minor: i64,
}

/// [`MrrRow`]s for each of `ids`, in one statement.
pub async fn mrr(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<MrrRow>> {
    diesel::sql_query(
        "SELECT t.partner_id, s.currency,
                SUM(CASE s.billing_cycle WHEN 'yearly' THEN round(s.price_minor / 12.0) ELSE s.price_minor END)::bigint
                    AS amount_minor
           FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
          WHERE t.partner_id = ANY($1) AND s.status IN ('active', 'trialing', 'past_due')
          GROUP BY t.partner_id, s.currency
          ORDER BY t.partner_id, s.currency",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .load(conn)
    .await
}
