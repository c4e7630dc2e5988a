//! Row structs read from the tables in `schema.rs` (selected by name, so column order in
//! the table does not matter).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{partners, subscriptions, tenants, users};

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
#[derive(Queryable, Selectable, QueryableByName, Debug, Clone)]
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

/// The `partners` columns the graph reads. `margin_pct` is read as text (numeric(5,2)),
/// so it stays exact.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = partners)]
pub struct PartnerRow {
    /// Primary key.
    pub id: Uuid,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// The partner's own domain.
    pub domain: Option<String>,
    /// active | suspended | terminated.
    pub status: String,
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

/// A `subscriptions` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    /// Primary key.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: Uuid,
    /// Plan.
    pub plan: String,
    /// incomplete | trialing | active | past_due | canceled | unpaid.
    pub status: String,
    /// Seats paid for.
    pub seats: i32,
    /// Price per billing cycle for the whole subscription, in minor units.
    pub price_minor: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// monthly | yearly.
    pub billing_cycle: String,
    /// End of the current period.
    pub current_period_end: Option<DateTime<Utc>>,
}

/// A membership joined with its user (what a Member shows).
#[derive(QueryableByName, Debug, Clone)]
pub struct MemberRow {
    /// `memberships.id`.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    /// The tenant.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    /// owner | admin | member.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub role: String,
    /// active | suspended.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: String,
    /// When the membership was created.
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The user.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    /// The user's email.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub email: String,
    /// The user's name.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
}
