//! Tenants: their row and status, and the reads, with the viewer's scope applied in SQL
//! (the access policy's [`Scope`]). Changes are in [`changes`] and [`status`].

pub mod changes;
pub mod profile;
pub mod status;
pub mod workspace;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::auth::{Scope, TenantRef, Viewer};
use crate::db::schema::tenants;
use crate::domain::ids::{ByIds, PartnerId, TenantId};
use crate::domain::page::{Direction, PageRequest, fetch_limit, like_pattern};
use crate::domain::partners::PartnerRow;
use crate::domain::security::network::NetworkRule;
use crate::error::{AppError, AppResult};

crate::text_enum! {
    /// Lifecycle state of a tenant.
    #[derive(async_graphql::Enum)]
    pub enum TenantStatus {
        /// Created; provisioning not finished.
        Pending = "pending",
        /// In service.
        Active = "active",
        /// Temporarily out of service (e.g. unpaid); data kept.
        Suspended = "suspended",
        /// Ended; kept for the record.
        Terminated = "terminated",
    }
}

/// The `tenants` columns the graph reads.
#[derive(Queryable, Selectable, QueryableByName, Debug, Clone)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    /// Primary key.
    pub id: TenantId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Lifecycle state.
    pub status: TenantStatus,
    /// Plan.
    pub plan: String,
    /// Owning partner.
    pub partner_id: Option<PartnerId>,
    /// Primary mail domain.
    pub primary_domain: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl TenantRow {
    /// What the access policy needs of this tenant.
    pub fn tenant_ref(&self) -> TenantRef {
        TenantRef {
            id: self.id,
            partner_id: self.partner_id,
        }
    }
}

impl ByIds for TenantRow {
    type Id = TenantId;

    fn id(&self) -> TenantId {
        self.id
    }

    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[TenantId]) -> QueryResult<Vec<Self>> {
        tenants::table
            .filter(tenants::id.eq_any(ids))
            .select(Self::as_select())
            .load(conn)
            .await
    }
}

/// The tenant `slug`, unscoped (callers apply the access policy).
pub async fn by_slug(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<TenantRow>> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(TenantRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The tenant `slug` with its network rule (IP allowlist, allowed countries), in one
/// statement, unscoped.
pub async fn by_slug_with_rule(
    conn: &mut AsyncPgConnection,
    slug: &str,
) -> QueryResult<Option<(TenantRow, NetworkRule)>> {
    use crate::db::schema::security_policies as sp;
    type Lists = (Vec<Option<String>>, Vec<Option<String>>);
    let found: Option<(TenantRow, Option<Lists>)> = tenants::table
        .left_join(sp::table)
        .filter(tenants::slug.eq(slug))
        .select((
            TenantRow::as_select(),
            (sp::ip_allowlist, sp::allowed_countries).nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(row, rule)| {
        let rule = rule.map_or_else(NetworkRule::default, |(ips, countries)| NetworkRule {
            ip_allowlist: ips.into_iter().flatten().collect(),
            allowed_countries: countries.into_iter().flatten().collect(),
        });
        (row, rule)
    }))
}

/// The tenant `slug` if the viewer may see it; a tenant the viewer may not see is
/// `NOT_FOUND`, exactly like one that does not exist (`FORBIDDEN` with the reason when only
/// the tenant's network rule stands in the way of the viewer's membership).
pub async fn visible_by_slug(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<TenantRow> {
    Ok(visible_by_slug_noting_exemption(conn, viewer, slug)
        .await?
        .0)
}

/// [`visible_by_slug`], and why the tenant's network rule would have refused the request
/// had the viewer not been an operator (operators are exempt; the caller audits it).
pub async fn visible_by_slug_noting_exemption(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<(TenantRow, Option<String>)> {
    let Some((row, rule)) = by_slug_with_rule(conn, slug).await? else {
        return Err(AppError::NotFound { what: "tenant" });
    };
    let row = visible(viewer, Some(row))?;
    let exempt = if viewer.is_operator() {
        rule.refusal(&viewer.network)
    } else {
        None
    };
    Ok((row, exempt))
}

/// `row` if the viewer sees it; `FORBIDDEN` with the reason when only the tenant's network
/// rule stands in the way of their membership; `NOT_FOUND` otherwise.
fn visible(viewer: &Viewer, row: Option<TenantRow>) -> AppResult<TenantRow> {
    match row {
        Some(t) if viewer.tenant_access(t.tenant_ref()).sees() => Ok(t),
        Some(t) => match viewer.network_refusal(t.id) {
            Some(why) => Err(AppError::Forbidden(why)),
            None => Err(AppError::NotFound { what: "tenant" }),
        },
        None => Err(AppError::NotFound { what: "tenant" }),
    }
}

/// The tenant `id` if the viewer may see it (same rule).
pub async fn visible_by_id(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TenantId,
) -> AppResult<TenantRow> {
    let row = TenantRow::by_ids(conn, &[id]).await?.into_iter().next();
    visible(viewer, row)
}

/// Filters of the `tenants` list.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    /// Only this status.
    pub status: Option<TenantStatus>,
    /// Only tenants of the partner with this slug.
    pub partner_slug: Option<String>,
    /// Case-insensitive substring of the name or slug.
    pub search: Option<String>,
}

/// Narrows a boxed query whose FROM holds `tenants` (alone or joined) to the tenants `scope`
/// may see (the SQL form of [`Viewer::tenant_access`]`.sees()`: an active membership, or
/// staff of the tenant's partner) that match `filter`; no order, no limit. A macro, so the
/// plain and the joined query share one definition of visibility.
macro_rules! visible_tenants {
    ($query:expr, $scope:expr, $filter:expr) => {{
        use crate::db::schema::partners;
        let mut query = $query;
        if let Scope::Limited(sets) = $scope {
            query = query.filter(
                tenants::id
                    .eq_any(sets.member_of.clone())
                    .or(tenants::partner_id.eq_any(sets.staff_of.clone())),
            );
        }
        let filter: &TenantFilter = $filter;
        if let Some(status) = filter.status {
            query = query.filter(tenants::status.eq(status));
        }
        if let Some(slug) = &filter.partner_slug {
            // Aliased: the joined query has `partners` in its FROM already.
            let by_slug = diesel::alias!(partners as partner_by_slug);
            let partner = by_slug
                .filter(by_slug.field(partners::slug).eq(slug.clone()))
                .select(by_slug.field(partners::id));
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
    }};
}

/// The tenants `scope` may see (the SQL form of [`Viewer::tenant_access`]`.sees()`): an
/// active membership, or staff of the tenant's partner.
pub fn scoped(scope: &Scope) -> tenants::BoxedQuery<'static, diesel::pg::Pg> {
    visible_tenants!(tenants::table.into_boxed(), scope, &TenantFilter::default())
}

/// The tenants the viewer may see that match `filter`, as a boxed query (no order, no limit).
fn filtered(scope: &Scope, filter: &TenantFilter) -> tenants::BoxedQuery<'static, diesel::pg::Pg> {
    visible_tenants!(tenants::table.into_boxed(), scope, filter)
}

/// One page of the tenants the viewer may see, by slug (`limit + 1` rows, in the page's
/// direction).
pub async fn page(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &TenantFilter,
    page: &PageRequest<String>,
) -> QueryResult<Vec<TenantRow>> {
    let mut query = filtered(&viewer.scope(), filter).select(TenantRow::as_select());
    query = match (page.direction, &page.cursor) {
        (Direction::Forward, Some(after)) => query.filter(tenants::slug.gt(after.clone())),
        (Direction::Backward, Some(before)) => query.filter(tenants::slug.lt(before.clone())),
        _ => query,
    };
    let query = match page.direction {
        Direction::Forward => query.order(tenants::slug.asc()),
        Direction::Backward => query.order(tenants::slug.desc()),
    };
    query.limit(page.fetch()).load(conn).await
}

/// [`page`] with each tenant's partner read in the same statement (a left join), for a page
/// whose selection asks for `partner`: one statement instead of two.
pub async fn page_with_partners(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &TenantFilter,
    page: &PageRequest<String>,
) -> QueryResult<Vec<(TenantRow, Option<PartnerRow>)>> {
    use crate::db::schema::partners;
    let joined = tenants::table.left_join(partners::table).into_boxed();
    let mut query = visible_tenants!(joined, &viewer.scope(), filter)
        .select((TenantRow::as_select(), Option::<PartnerRow>::as_select()));
    query = match (page.direction, &page.cursor) {
        (Direction::Forward, Some(after)) => query.filter(tenants::slug.gt(after.clone())),
        (Direction::Backward, Some(before)) => query.filter(tenants::slug.lt(before.clone())),
        _ => query,
    };
    let query = match page.direction {
        Direction::Forward => query.order(tenants::slug.asc()),
        Direction::Backward => query.order(tenants::slug.desc()),
    };
    query.limit(page.fetch()).load(conn).await
}

/// How many tenants the viewer may see match `filter`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &TenantFilter,
) -> QueryResult<i64> {
    filtered(&viewer.scope(), filter)
        .count()
        .get_result(conn)
        .await
}

/// The first `limit + 1` tenants (by slug, after `after`) of each partner, in one statement.
pub async fn pages_by_partner(
    conn: &mut AsyncPgConnection,
    partner_ids: &[PartnerId],
    after: Option<&str>,
    limit: usize,
) -> QueryResult<Vec<TenantRow>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    diesel::sql_query(
        // One index scan of `limit + 1` rows per partner (tenants_partner_slug_idx).
        "SELECT t.id, t.slug, t.name, t.status, t.plan, t.partner_id, t.primary_domain,
                t.created_at, t.updated_at
           FROM unnest($1::uuid[]) AS p(id)
          CROSS JOIN LATERAL (
                SELECT * FROM tenants t
                 WHERE t.partner_id = p.id AND ($2::text IS NULL OR t.slug > $2)
                 ORDER BY t.slug
                 LIMIT $3) t
          ORDER BY t.partner_id, t.slug",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(partner_ids)
    .bind::<Nullable<Text>, _>(after)
    .bind::<BigInt, _>(fetch_limit(limit))
    .load(conn)
    .await
}

/// Tenants per partner, for each of `ids` (without terminated ones when `customers_only`:
/// the customer count), from `partner_tenant_counts`, which triggers on `tenants` keep (a
/// partner without a row has none).
pub async fn counts_by_partner(
    conn: &mut AsyncPgConnection,
    ids: &[PartnerId],
    customers_only: bool,
) -> QueryResult<Vec<(PartnerId, i64)>> {
    use crate::db::schema::partner_tenant_counts as counts;
    let query = counts::table.filter(counts::partner_id.eq_any(ids));
    if customers_only {
        query
            .select((counts::partner_id, counts::customers))
            .load(conn)
            .await
    } else {
        query
            .select((counts::partner_id, counts::tenants))
            .load(conn)
            .await
    }
}
