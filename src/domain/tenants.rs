//! Tenants: lookups with the viewer's scope applied.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::models::TenantRow;
use crate::db::schema::tenants;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{Direction, PageRequest};

/// The tenant `slug` if the viewer may see it; a tenant the viewer may not see is
/// `NOT_FOUND`, exactly like one that does not exist.
pub async fn visible_by_slug(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<TenantRow> {
    let row = tenants::table
        .filter(tenants::slug.eq(slug))
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?;
    visible(viewer, row)
}

/// The tenant `id` if the viewer may see it (same rule).
pub async fn visible_by_id(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<TenantRow> {
    let row = tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()?;
    visible(viewer, row)
}

fn visible(viewer: &Viewer, row: Option<TenantRow>) -> AppResult<TenantRow> {
    row.filter(|t| viewer.can_see_tenant(t.id, t.partner_id))
        .ok_or(AppError::NotFound { what: "tenant" })
}

/// The partner owning tenant `slug` (`None` for a direct tenant), or `NOT_FOUND`.
pub async fn owner_partner(
    conn: &mut AsyncPgConnection,
    slug: &str,
) -> AppResult<(Uuid, Option<Uuid>)> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select((tenants::id, tenants::partner_id))
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "tenant" })
}

/// Filters of the `tenants` list.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    /// Only this status (database value).
    pub status: Option<&'static str>,
    /// Only tenants of the partner with this slug.
    pub partner_slug: Option<String>,
    /// Case-insensitive substring of the name or slug.
    pub search: Option<String>,
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The tenants the viewer may see that match `filter`, as a boxed query (no order, no limit).
fn scoped(viewer: &Viewer, filter: &TenantFilter) -> tenants::BoxedQuery<'static, diesel::pg::Pg> {
    use crate::db::schema::partners;
    let mut query = tenants::table.into_boxed();
    if !viewer.is_operator() {
        let member_of: Vec<Uuid> = viewer
            .memberships
            .iter()
            .filter(|m| m.status == crate::auth::viewer::MembershipStatus::Active)
            .map(|m| m.tenant_id)
            .collect();
        let staff_of: Vec<Uuid> = viewer.partner_roles.iter().map(|r| r.partner_id).collect();
        query = query.filter(
            tenants::id
                .eq_any(member_of)
                .or(tenants::partner_id.eq_any(staff_of)),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(tenants::status.eq(status));
    }
    if let Some(slug) = &filter.partner_slug {
        let partner = partners::table
            .filter(partners::slug.eq(slug.clone()))
            .select(partners::id);
        query = query.filter(tenants::partner_id.eq_any(partner.nullable()));
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        query = query.filter(
            tenants::name
                .ilike(pattern.clone())
                .or(tenants::slug.ilike(pattern)),
        );
    }
    query
}

/// One page of the tenants the viewer may see, by slug (`limit + 1` rows, in the page's
/// direction).
pub async fn page(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &TenantFilter,
    page: &PageRequest<String>,
) -> QueryResult<Vec<TenantRow>> {
    let mut query = scoped(viewer, filter).select(TenantRow::as_select());
    let fetch = i64::try_from(page.limit + 1).unwrap_or(i64::MAX);
    query = match (page.direction, &page.cursor) {
        (Direction::Forward, Some(after)) => query.filter(tenants::slug.gt(after.clone())),
        (Direction::Backward, Some(before)) => query.filter(tenants::slug.lt(before.clone())),
        _ => query,
    };
    let query = match page.direction {
        Direction::Forward => query.order(tenants::slug.asc()),
        Direction::Backward => query.order(tenants::slug.desc()),
    };
    query.limit(fetch).load(conn).await
}

/// How many tenants the viewer may see match `filter`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &TenantFilter,
) -> QueryResult<i64> {
    scoped(viewer, filter).count().get_result(conn).await
}

/// The first `limit + 1` tenants (by slug, after `after`) of each partner, in one statement.
pub async fn pages_by_partner(
    conn: &mut AsyncPgConnection,
    partner_ids: &[Uuid],
    after: Option<&str>,
    limit: usize,
) -> QueryResult<Vec<TenantRow>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    diesel::sql_query(
        "SELECT id, slug, name, status, plan, partner_id, primary_domain, created_at, updated_at
           FROM (SELECT t.*, row_number() OVER (PARTITION BY t.partner_id ORDER BY t.slug) AS rn
                   FROM tenants t
                  WHERE t.partner_id = ANY($1) AND ($2::text IS NULL OR t.slug > $2)) ranked
          WHERE rn <= $3
          ORDER BY partner_id, slug",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(partner_ids)
    .bind::<Nullable<Text>, _>(after)
    .bind::<BigInt, _>(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .load(conn)
    .await
}

/// Tenants by id (no scope: callers check `Viewer::can_see_tenant`).
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<TenantRow>> {
    tenants::table
        .filter(tenants::id.eq_any(ids))
        .select(TenantRow::as_select())
        .load(conn)
        .await
}
