//! Feature flags: rules and their evaluation ([`rules`]), the stored flags (read here) and
//! their changes ([`changes`]).

pub mod changes;
pub mod rules;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{feature_flags, tenants};
use crate::domain::flags::rules::{FlagDefinition, Rule};
use crate::domain::tenants::TenantStatus;
use crate::error::{AppError, AppResult};

/// A `feature_flags` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = feature_flags)]
pub struct FlagRow {
    /// Key.
    pub key: String,
    /// What the flag gates.
    pub description: String,
    /// Value without a matching rule.
    pub default_value: bool,
    /// Off switch.
    pub enabled: bool,
    /// Ordered rules (JSON).
    pub rules: serde_json::Value,
    /// When archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl FlagRow {
    /// The evaluator's view; unreadable rules are an internal error.
    pub fn definition(&self) -> AppResult<FlagDefinition> {
        let rules: Vec<Rule> =
            serde_json::from_value(self.rules.clone()).map_err(AppError::internal)?;
        Ok(FlagDefinition {
            key: self.key.clone(),
            default_value: self.default_value,
            enabled: self.enabled,
            rules,
        })
    }
}

/// Every flag that is not archived, by key.
pub async fn live(conn: &mut AsyncPgConnection) -> QueryResult<Vec<FlagRow>> {
    feature_flags::table
        .filter(feature_flags::archived_at.is_null())
        .order(feature_flags::key.asc())
        .select(FlagRow::as_select())
        .load(conn)
        .await
}

/// A flag by key (archived included).
pub async fn by_key(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<Option<FlagRow>> {
    feature_flags::table
        .find(key)
        .select(FlagRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A page of flags by key (`limit + 1` rows after `after`).
pub async fn page(
    conn: &mut AsyncPgConnection,
    after: Option<&str>,
    limit: usize,
    include_archived: bool,
) -> QueryResult<Vec<FlagRow>> {
    let mut query = feature_flags::table
        .select(FlagRow::as_select())
        .into_boxed();
    if !include_archived {
        query = query.filter(feature_flags::archived_at.is_null());
    }
    if let Some(after) = after {
        query = query.filter(feature_flags::key.gt(after.to_owned()));
    }
    query
        .order(feature_flags::key.asc())
        .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .load(conn)
        .await
}

/// How many flags there are (archived ones when asked).
pub async fn count(conn: &mut AsyncPgConnection, include_archived: bool) -> QueryResult<i64> {
    let mut query = feature_flags::table.into_boxed();
    if !include_archived {
        query = query.filter(feature_flags::archived_at.is_null());
    }
    query.count().get_result(conn).await
}

/// Every tenant that is not terminated: (id, partner, plan), for rule match counts.
pub async fn tenant_facts(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Uuid, Option<Uuid>, String)>> {
    tenants::table
        .filter(tenants::status.ne(TenantStatus::Terminated))
        .select((tenants::id, tenants::partner_id, tenants::plan))
        .load(conn)
        .await
}
