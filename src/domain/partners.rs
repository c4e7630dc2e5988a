//! Partners: lookups with the viewer's scope applied.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::models::PartnerRow;
use crate::db::schema::partners;
use crate::error::{AppError, AppResult};

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
