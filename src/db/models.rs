//! Row structs read from the tables in `schema.rs` (selected by name, so column order in
//! the table does not matter).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{partners, tenants, users};

/// A `users` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// Primary key.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Operator flag.
    pub platform_admin: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The `tenants` columns the graph reads.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    /// Primary key.
    pub id: Uuid,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// pending | active | suspended | terminated.
    pub status: String,
    /// Plan.
    pub plan: String,
    /// Owning partner.
    pub partner_id: Option<Uuid>,
    /// Primary mail domain.
    pub primary_domain: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The `partners` columns the graph reads.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = partners)]
pub struct PartnerRow {
    /// Primary key.
    pub id: Uuid,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// active | suspended | terminated.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}
