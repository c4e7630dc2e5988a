//! Tenants: lookups with the viewer's scope applied.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::models::TenantRow;
use crate::db::schema::tenants;
use crate::error::{AppError, AppResult};

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
