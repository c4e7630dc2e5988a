//! Self-service workspaces and the default tenant.
//!
//! - `createWorkspace(slug, name)`: any signed-in caller creates a tenant and becomes its
//!   active `OWNER`; the tenant starts `PENDING` on the default plan with its provisioning
//!   queued, exactly as `createTenant` does. Each person may hold at most
//!   `WORKSPACES_PER_USER` workspaces they created (terminated ones do not count) and may try
//!   at most `WORKSPACES_PER_HOUR` times an hour (`RATE_LIMITED`, counted from the audit
//!   log, so it holds across replicas). Attempts by one person run one at a time (an
//!   advisory lock), so two concurrent attempts cannot both pass the limit.
//! - The default tenant: at start, when `DEFAULT_TENANT_SLUG` is set (`dezky` in
//!   development, unset in production; `-` for none), that tenant exists — inserted with
//!   `ON CONFLICT DO NOTHING`, so two starts or two instances starting at once create it
//!   once, and an existing tenant is never overwritten. Its subscription is the billing
//!   area's (not created here).

use std::time::Duration;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::{TenantRow, TenantStatus};
use crate::auth::Viewer;
use crate::config::{AppEnv, ConfigError};
use crate::db::schema::{audit_events, memberships, tenant_profiles, tenants};
use crate::domain::audit::change::{Caller, Need};
use crate::domain::audit::{Actor, AuditEntry, Outcome, record};
use crate::domain::ids::TenantId;
use crate::domain::members::{MemberRole, MembershipStatus};
use crate::domain::provisioning;
use crate::domain::values::{Name, Slug};
use crate::error::{AppError, AppResult};

/// The plan a self-service or default tenant starts on.
pub const DEFAULT_PLAN: &str = "standard";

/// Self-service and default-tenant settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacesConfig {
    /// `WORKSPACES_PER_USER` (default 3): how many live workspaces one person may create.
    pub per_user: i64,
    /// `WORKSPACES_PER_HOUR` (default 10): how many `createWorkspace` attempts one person
    /// may make in an hour.
    pub per_hour: i64,
    /// `DEFAULT_TENANT_SLUG` (default `dezky` in development, unset in production; `-` turns
    /// it off).
    pub default_tenant_slug: Option<String>,
    /// `DEFAULT_TENANT_NAME` (default `Dezky`).
    pub default_tenant_name: String,
}

impl WorkspacesConfig {
    /// Reads the settings; `get` answers `None` for unset (or empty) variables.
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        app_env: AppEnv,
    ) -> Result<Self, ConfigError> {
        let number = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or(ConfigError {
                        name,
                        message: format!("{v:?} is not a whole number of at least 0"),
                    }),
            }
        };
        let default_tenant_slug = match (get("DEFAULT_TENANT_SLUG"), app_env) {
            (Some(off), _) if off.trim() == "-" => None,
            (Some(slug), _) => {
                Slug::parse(&slug, "DEFAULT_TENANT_SLUG").map_err(|e| ConfigError {
                    name: "DEFAULT_TENANT_SLUG",
                    message: e.to_string(),
                })?;
                Some(slug.trim().to_owned())
            }
            (None, AppEnv::Development) => Some("dezky".to_owned()),
            (None, AppEnv::Production) => None,
        };
        Ok(Self {
            per_user: number("WORKSPACES_PER_USER", 3)?,
            per_hour: number("WORKSPACES_PER_HOUR", 10)?,
            default_tenant_slug,
            default_tenant_name: get("DEFAULT_TENANT_NAME").unwrap_or_else(|| "Dezky".into()),
        })
    }
}

/// Any caller with valid credentials; the closure gets `()`.
pub struct SignedIn;

impl Need for SignedIn {
    type Target = ();

    async fn resolve(
        self,
        _conn: &mut AsyncPgConnection,
        _viewer: &Viewer,
        _audit: &mut AuditEntry,
    ) -> AppResult<()> {
        Ok(())
    }
}

fn conflict_on_slug(error: DieselError) -> AppError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("tenants_slug_key") =>
        {
            AppError::Conflict("a tenant with this slug already exists".into())
        }
        _ => error.into(),
    }
}

diesel::define_sql_function! {
    /// `pg_advisory_xact_lock(hashtextextended(key, 0))`: held until the transaction ends.
    fn pg_advisory_xact_lock(key: diesel::sql_types::BigInt);
}

diesel::define_sql_function! {
    /// SQL `hashtextextended(text, seed)`.
    fn hashtextextended(text: diesel::sql_types::Text, seed: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}

/// `createWorkspace`.
pub async fn create(
    caller: &Caller,
    slug: &str,
    name: &str,
    config: &WorkspacesConfig,
    max_attempts: u32,
) -> AppResult<TenantRow> {
    let (slug, name, config) = (slug.to_owned(), name.to_owned(), config.clone());
    caller
        .change("tenant.create_workspace", "tenant")
        .target(slug.clone())
        .run(SignedIn, async move |mut tx, ()| {
            let user = tx.viewer.user_id;
            let slug = Slug::parse(&slug, "input.slug")?;
            let name = Name::parse(&name, "input.name")?;
            tx.audit.details = json!({ "slug": slug.as_str(), "name": name.as_str() });
            diesel::select(pg_advisory_xact_lock(hashtextextended(
                format!("workspaces:{user}"),
                0,
            )))
            .execute(tx.conn)
            .await?;
            let since = chrono::Utc::now() - Duration::from_secs(3600);
            let attempts: i64 = audit_events::table
                .filter(audit_events::action.eq("tenant.create_workspace"))
                .filter(audit_events::actor_user_id.eq(user))
                .filter(audit_events::at.gt(since))
                .count()
                .get_result(tx.conn)
                .await?;
            if attempts >= config.per_hour {
                return Err(AppError::RateLimited {
                    retry_after_secs: Some(3600),
                });
            }
            let live: i64 = tenant_profiles::table
                .inner_join(tenants::table)
                .filter(tenant_profiles::created_by.eq(user))
                .filter(tenants::status.ne(TenantStatus::Terminated))
                .count()
                .get_result(tx.conn)
                .await?;
            if live >= config.per_user {
                return Err(tx.deny(&format!(
                    "you may create at most {} workspaces",
                    config.per_user
                )));
            }
            let row: TenantRow = diesel::insert_into(tenants::table)
                .values((
                    tenants::slug.eq(slug.as_str()),
                    tenants::name.eq(name.as_str()),
                    tenants::plan.eq(DEFAULT_PLAN),
                ))
                .returning(TenantRow::as_returning())
                .get_result(tx.conn)
                .await
                .map_err(conflict_on_slug)?;
            diesel::insert_into(memberships::table)
                .values((
                    memberships::user_id.eq(user),
                    memberships::tenant_id.eq(row.id),
                    memberships::role.eq(MemberRole::Owner),
                    memberships::status.eq(MembershipStatus::Active),
                ))
                .execute(tx.conn)
                .await?;
            diesel::insert_into(tenant_profiles::table)
                .values((
                    tenant_profiles::tenant_id.eq(row.id),
                    tenant_profiles::created_by.eq(user),
                ))
                .execute(tx.conn)
                .await?;
            provisioning::state::queue_steps(
                tx.conn,
                row.id,
                provisioning::Step::ALL,
                max_attempts,
                "queued",
            )
            .await?;
            tx.audit.tenant_id = Some(row.id);
            tx.audit.details["plan"] = json!(DEFAULT_PLAN);
            Ok(row)
        })
        .await
}

/// Ensures the default tenant (see the module docs); returns its id when this call created
/// it. Creating it queues its provisioning and writes a `tenant.create` audit row with no
/// actor, in one transaction.
pub async fn ensure_default_tenant(
    conn: &mut AsyncPgConnection,
    config: &WorkspacesConfig,
    max_attempts: u32,
) -> anyhow::Result<Option<TenantId>> {
    let Some(slug) = config.default_tenant_slug.clone() else {
        return Ok(None);
    };
    let name = config.default_tenant_name.clone();
    let created = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            let id: Option<TenantId> = diesel::insert_into(tenants::table)
                .values((
                    tenants::slug.eq(&slug),
                    tenants::name.eq(&name),
                    tenants::plan.eq(DEFAULT_PLAN),
                ))
                .on_conflict(tenants::slug)
                .do_nothing()
                .returning(tenants::id)
                .get_result(conn)
                .await
                .optional()?;
            let Some(id) = id else {
                return Ok(None);
            };
            provisioning::state::queue_steps(conn, id, provisioning::Step::ALL, max_attempts, "queued")
                .await?;
            let mut entry = AuditEntry::new("tenant.create", "tenant");
            entry.target_id = Some(slug.clone());
            entry.tenant_id = Some(id);
            entry.outcome = Outcome::Success;
            entry.details = json!({ "slug": slug, "name": name, "plan": DEFAULT_PLAN, "by": "DEFAULT_TENANT_SLUG" });
            record(conn, &Actor::default(), &entry).await?;
            Ok(Some(id))
        })
        .await?;
    if let Some(id) = created {
        tracing::info!(tenant = %id, "created the default tenant");
    }
    Ok(created)
}
