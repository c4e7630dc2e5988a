//! Changes to tenants: create, update, suspend, resume, terminate. Each runs through
//! [`audited`]: authorization, then validation, then the change, with one audit row.
//!
//! Who may do what:
//! - operators: everything;
//! - staff of the tenant's partner: update name, plan and primary domain; suspend; resume;
//! - the tenant's admins (active owner/admin): update the name;
//! - anyone else who may see the tenant: `FORBIDDEN`; who may not: `NOT_FOUND`.
//!
//! Status moves: pending/active → suspended (suspend), suspended → active (resume),
//! anything but terminated → terminated (terminate). Anything else is `BAD_USER_INPUT`.

use std::sync::Arc;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::DbPool;
use crate::db::models::TenantRow;
use crate::db::schema::{partners, tenants};
use crate::domain::audit::{Actor, AuditEntry, audited};
use crate::domain::provisioning;
use crate::domain::values::{self, DomainName, Name, Plan, Slug};
use crate::error::{AppError, AppResult};
use crate::events::{self, Event};

/// A field that may be left alone, cleared, or set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave as it is.
    #[default]
    Keep,
    /// Set to null.
    Clear,
    /// Set to the value.
    Set(T),
}

/// Input of `createTenant`.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Plan (default `standard`).
    pub plan: Option<String>,
    /// Primary mail domain.
    pub primary_domain: Option<String>,
    /// Slug of the partner to attach to.
    pub partner: Option<String>,
}

/// Input of `updateTenant`.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    /// Slug of the tenant to change.
    pub tenant: String,
    /// New name.
    pub name: Option<String>,
    /// New plan.
    pub plan: Option<String>,
    /// New primary domain, or clear it.
    pub primary_domain: Patch<String>,
    /// Attach to a partner (slug) or detach (clear). Operators only.
    pub partner: Patch<String>,
}

/// A status move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Out of service, data kept.
    Suspend,
    /// Back in service.
    Resume,
    /// Ended for good.
    Terminate,
}

impl Transition {
    fn action(self) -> &'static str {
        match self {
            Self::Suspend => "tenant.suspend",
            Self::Resume => "tenant.resume",
            Self::Terminate => "tenant.terminate",
        }
    }

    /// The status after the move, if the move is allowed from `from`.
    fn target(self, from: &str) -> Option<&'static str> {
        match (self, from) {
            (Self::Suspend, "pending" | "active") => Some("suspended"),
            (Self::Resume, "suspended") => Some("active"),
            (Self::Terminate, "pending" | "active" | "suspended") => Some("terminated"),
            _ => None,
        }
    }
}

/// `NOT_FOUND` unless the viewer may see the tenant; the row otherwise. Fills the audit
/// entry's target, tenant and partner.
pub(crate) async fn visible_tenant(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    slug: &str,
    audit: &mut AuditEntry,
) -> AppResult<TenantRow> {
    audit.target_id = Some(slug.to_owned());
    let row = crate::domain::tenants::visible_by_slug(conn, viewer, slug)
        .await
        .map_err(|e| audit.deny(e))?;
    audit.tenant_id = Some(row.id);
    audit.partner_id = row.partner_id;
    Ok(row)
}

fn forbidden(audit: &mut AuditEntry, message: &str) -> AppError {
    audit.deny(AppError::Forbidden(message.to_owned()))
}

/// An active partner's id by slug, or `BAD_USER_INPUT` on `field`.
async fn active_partner(conn: &mut AsyncPgConnection, slug: &str, field: &str) -> AppResult<Uuid> {
    partners::table
        .filter(partners::slug.eq(slug).and(partners::status.eq("active")))
        .select(partners::id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::bad_input(field, "no active partner has this slug"))
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

/// `createTenant` (operators): the row, its provisioning steps and their jobs, in one
/// transaction (`max_attempts` per step job).
pub async fn create(
    pool: &DbPool,
    actor: &Actor,
    viewer: AppResult<Arc<Viewer>>,
    input: NewTenant,
    max_attempts: u32,
) -> AppResult<TenantRow> {
    audited(
        pool,
        actor,
        AuditEntry::new("tenant.create", "tenant"),
        move |conn, audit| {
            Box::pin(async move {
                let viewer = viewer.map_err(|e| audit.deny(e))?;
                audit.target_id = Some(input.slug.clone());
                if !viewer.is_operator() {
                    return Err(forbidden(audit, "operator access required"));
                }
                let slug = Slug::parse(&input.slug, "input.slug")?;
                let name = Name::parse(&input.name, "input.name")?;
                let plan = input
                    .plan
                    .as_deref()
                    .map(|p| Plan::parse(p, "input.plan"))
                    .transpose()?;
                let domain = input
                    .primary_domain
                    .as_deref()
                    .map(|d| DomainName::parse(d, "input.primaryDomain"))
                    .transpose()?;
                let partner_id = match &input.partner {
                    Some(p) => Some(active_partner(conn, p, "input.partner").await?),
                    None => None,
                };
                let row: TenantRow = diesel::insert_into(tenants::table)
                    .values((
                        tenants::slug.eq(slug.as_str()),
                        tenants::name.eq(name.as_str()),
                        tenants::plan.eq(plan.as_ref().map_or("standard", Plan::as_str)),
                        tenants::primary_domain.eq(domain.as_ref().map(DomainName::as_str)),
                        tenants::partner_id.eq(partner_id),
                    ))
                    .returning(TenantRow::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(conflict_on_slug)?;
                provisioning::state::queue_steps(
                    conn,
                    row.id,
                    &provisioning::Step::ALL,
                    max_attempts,
                    "queued",
                )
                .await?;
                audit.tenant_id = Some(row.id);
                audit.partner_id = row.partner_id;
                audit.details = json!({
                    "slug": row.slug, "name": row.name, "plan": row.plan,
                    "primaryDomain": row.primary_domain, "partner": input.partner,
                });
                Ok(row)
            })
        },
    )
    .await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = tenants)]
struct TenantChangeset {
    name: Option<String>,
    plan: Option<String>,
    primary_domain: Option<Option<String>>,
    partner_id: Option<Option<Uuid>>,
}

/// `updateTenant`: operators change anything; the partner's staff name, plan and primary
/// domain; tenant admins the name.
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    viewer: AppResult<Arc<Viewer>>,
    input: TenantUpdate,
) -> AppResult<TenantRow> {
    audited(
        pool,
        actor,
        AuditEntry::new("tenant.update", "tenant"),
        move |conn, audit| {
            Box::pin(async move {
                let viewer = viewer.map_err(|e| audit.deny(e))?;
                let current = visible_tenant(conn, &viewer, &input.tenant, audit).await?;
                let operator = viewer.is_operator();
                let staff = current
                    .partner_id
                    .is_some_and(|p| viewer.is_partner_staff(p));
                let admin = viewer.can_admin_tenant(current.id);
                let touches_commercial =
                    input.plan.is_some() || input.primary_domain != Patch::Keep;
                if input.partner != Patch::Keep && !operator {
                    return Err(forbidden(audit, "only operators attach or detach partners"));
                }
                if touches_commercial && !(operator || staff) {
                    return Err(forbidden(
                        audit,
                        "only operators and the tenant's partner change the plan or domain",
                    ));
                }
                if !(operator || staff || admin) {
                    return Err(forbidden(audit, "tenant admin access required"));
                }
                if current.status == "terminated" {
                    return Err(AppError::bad_input(
                        "input.tenant",
                        "a terminated tenant cannot be changed",
                    ));
                }
                let mut changes = TenantChangeset::default();
                let mut details = serde_json::Map::new();
                if let Some(name) = &input.name {
                    let name = Name::parse(name, "input.name")?;
                    details.insert(
                        "name".into(),
                        json!({ "from": current.name, "to": name.as_str() }),
                    );
                    changes.name = Some(name.as_str().to_owned());
                }
                if let Some(plan) = &input.plan {
                    let plan = Plan::parse(plan, "input.plan")?;
                    details.insert(
                        "plan".into(),
                        json!({ "from": current.plan, "to": plan.as_str() }),
                    );
                    changes.plan = Some(plan.as_str().to_owned());
                }
                match &input.primary_domain {
                    Patch::Keep => {}
                    Patch::Clear => changes.primary_domain = Some(None),
                    Patch::Set(d) => {
                        changes.primary_domain = Some(Some(
                            DomainName::parse(d, "input.primaryDomain")?
                                .as_str()
                                .to_owned(),
                        ))
                    }
                }
                if let Some(domain) = &changes.primary_domain {
                    details.insert(
                        "primaryDomain".into(),
                        json!({ "from": current.primary_domain, "to": domain }),
                    );
                }
                match &input.partner {
                    Patch::Keep => {}
                    Patch::Clear => changes.partner_id = Some(None),
                    Patch::Set(p) => {
                        changes.partner_id =
                            Some(Some(active_partner(conn, p, "input.partner").await?))
                    }
                }
                if let Patch::Set(p) = &input.partner {
                    details.insert("partner".into(), json!({ "to": p }));
                } else if input.partner == Patch::Clear {
                    details.insert("partner".into(), json!({ "to": null }));
                }
                if details.is_empty() {
                    return Err(AppError::bad_input("input", "nothing to change"));
                }
                audit.details = serde_json::Value::Object(details);
                let row = diesel::update(tenants::table.find(current.id))
                    .set(&changes)
                    .returning(TenantRow::as_returning())
                    .get_result(conn)
                    .await?;
                audit.partner_id = row.partner_id.or(current.partner_id);
                events::notify(conn, &Event::TenantChanged(row.id)).await?;
                Ok(row)
            })
        },
    )
    .await
}

/// `suspendTenant`, `resumeTenant` (operators and the partner's staff) and `terminateTenant`
/// (operators).
pub async fn transition(
    pool: &DbPool,
    actor: &Actor,
    viewer: AppResult<Arc<Viewer>>,
    slug: String,
    move_: Transition,
    reason: Option<String>,
) -> AppResult<TenantRow> {
    audited(
        pool,
        actor,
        AuditEntry::new(move_.action(), "tenant"),
        move |conn, audit| {
            Box::pin(async move {
                let viewer = viewer.map_err(|e| audit.deny(e))?;
                let current = visible_tenant(conn, &viewer, &slug, audit).await?;
                let staff = current
                    .partner_id
                    .is_some_and(|p| viewer.is_partner_staff(p));
                let allowed = viewer.is_operator() || (staff && move_ != Transition::Terminate);
                if !allowed {
                    return Err(forbidden(audit, "operators and the tenant's partner only"));
                }
                let reason = values::reason(reason, "input.reason")?;
                let Some(next) = move_.target(&current.status) else {
                    return Err(AppError::bad_input(
                        "input.tenant",
                        format!("a {} tenant cannot be moved this way", current.status),
                    ));
                };
                audit.details = json!({ "from": current.status, "to": next, "reason": reason });
                let row = diesel::update(tenants::table.find(current.id))
                    .set(tenants::status.eq(next))
                    .returning(TenantRow::as_returning())
                    .get_result(conn)
                    .await?;
                events::notify(conn, &Event::TenantChanged(row.id)).await?;
                Ok(row)
            })
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine() {
        use Transition::*;
        assert_eq!(Suspend.target("active"), Some("suspended"));
        assert_eq!(Suspend.target("pending"), Some("suspended"));
        assert_eq!(Suspend.target("suspended"), None);
        assert_eq!(Resume.target("suspended"), Some("active"));
        assert_eq!(Resume.target("active"), None);
        assert_eq!(
            Resume.target("terminated"),
            None,
            "no resume of a terminated tenant"
        );
        assert_eq!(Terminate.target("suspended"), Some("terminated"));
        assert_eq!(Terminate.target("terminated"), None);
    }
}
