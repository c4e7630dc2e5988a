//! Creating and updating tenants. Status moves are in [`super::status`].
//!
//! Who may do what:
//! - operators: everything;
//! - staff of the tenant's partner: update name, plan and primary domain;
//! - the tenant's admins (active owner/admin): update the name;
//! - anyone else who may see the tenant: `FORBIDDEN`; who may not: `NOT_FOUND`.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::{TenantRow, TenantStatus};
use crate::auth::TenantAccess;
use crate::db::schema::{partners, tenants};
use crate::domain::audit::change::{Caller, need};
use crate::domain::billing::plans;
use crate::domain::billing::subscription::{self, SubscriptionJob};
use crate::domain::ids::PartnerId;
use crate::domain::partners::PartnerStatus;
use crate::domain::patch::Patch;
use crate::domain::provisioning;
use crate::domain::values::{DomainName, Name, Slug};
use crate::error::{AppError, AppResult};
use crate::events::{self, Event};

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
    /// Industry and brand colour (same access as the name).
    pub profile: super::profile::ProfileUpdate,
}

/// An active partner's id by slug, or `BAD_USER_INPUT` on `field`.
async fn active_partner(
    conn: &mut AsyncPgConnection,
    slug: &str,
    field: &str,
) -> AppResult<PartnerId> {
    partners::table
        .filter(
            partners::slug
                .eq(slug)
                .and(partners::status.eq(PartnerStatus::Active)),
        )
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
pub async fn create(caller: &Caller, input: NewTenant, max_attempts: u32) -> AppResult<TenantRow> {
    caller
        .change("tenant.create", "tenant")
        .target(input.slug.clone())
        .run(need::operator(), async move |tx, ()| {
            let slug = Slug::parse(&input.slug, "input.slug")?;
            let name = Name::parse(&input.name, "input.name")?;
            let plan = match input.plan.as_deref() {
                Some(p) => Some(plans::require(tx.conn, p, "input.plan").await?.key),
                None => None,
            };
            let domain = input
                .primary_domain
                .as_deref()
                .map(|d| DomainName::parse(d, "input.primaryDomain"))
                .transpose()?;
            let partner_id = match &input.partner {
                Some(p) => Some(active_partner(tx.conn, p, "input.partner").await?),
                None => None,
            };
            let row: TenantRow = diesel::insert_into(tenants::table)
                .values((
                    tenants::slug.eq(slug.as_str()),
                    tenants::name.eq(name.as_str()),
                    tenants::plan.eq(plan.as_deref().unwrap_or("standard")),
                    tenants::primary_domain.eq(domain.as_ref().map(DomainName::as_str)),
                    tenants::partner_id.eq(partner_id),
                ))
                .returning(TenantRow::as_returning())
                .get_result(tx.conn)
                .await
                .map_err(conflict_on_slug)?;
            provisioning::state::queue_steps(
                tx.conn,
                row.id,
                provisioning::Step::FIRST,
                max_attempts,
                "queued",
            )
            .await?;
            crate::domain::domains::changes::queue_ensure_primary(tx.conn, row.id, max_attempts)
                .await?;
            tx.audit.tenant_id = Some(row.id);
            tx.audit.partner_id = row.partner_id;
            tx.audit.details = json!({
                "slug": row.slug, "name": row.name, "plan": row.plan,
                "primaryDomain": row.primary_domain, "partner": input.partner,
            });
            Ok(row)
        })
        .await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = tenants)]
struct TenantChangeset {
    name: Option<String>,
    plan: Option<String>,
    primary_domain: Option<Option<String>>,
    partner_id: Option<Option<PartnerId>>,
}

/// `updateTenant`: operators change anything; the partner's staff name, plan and primary
/// domain; tenant admins the name. A new primary domain gets its ensure job (`max_attempts`).
pub async fn update(
    caller: &Caller,
    input: TenantUpdate,
    max_attempts: u32,
) -> AppResult<TenantRow> {
    let slug = input.tenant.clone();
    caller
        .change("tenant.update", "tenant")
        .run(
            need::tenant(&slug, TenantAccess::Admin),
            async move |mut tx, current| {
                let access = tx.viewer.tenant_access(current.tenant_ref());
                if input.partner.changes() {
                    tx.allow(
                        access >= TenantAccess::Operator,
                        "only operators attach or detach partners",
                    )?;
                }
                if input.plan.is_some() || input.primary_domain.changes() {
                    tx.allow(
                        access >= TenantAccess::PartnerStaff,
                        "only operators and the tenant's partner change the plan or domain",
                    )?;
                }
                if current.status == TenantStatus::Terminated {
                    return Err(AppError::bad_input(
                        "input.tenant",
                        "the tenant is terminated, so it cannot be changed",
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
                    let plan = plans::require(tx.conn, plan, "input.plan").await?;
                    details.insert(
                        "plan".into(),
                        json!({ "from": current.plan, "to": plan.key }),
                    );
                    changes.plan = Some(plan.key);
                }
                changes.primary_domain = input
                    .primary_domain
                    .clone()
                    .try_map(|d| {
                        DomainName::parse(&d, "input.primaryDomain").map(|d| d.as_str().to_owned())
                    })?
                    .into_change();
                if let Some(domain) = &changes.primary_domain {
                    details.insert(
                        "primaryDomain".into(),
                        json!({ "from": current.primary_domain, "to": domain }),
                    );
                }
                changes.partner_id = match &input.partner {
                    Patch::Keep => None,
                    Patch::Clear => Some(None),
                    Patch::Set(p) => Some(Some(active_partner(tx.conn, p, "input.partner").await?)),
                };
                match &input.partner {
                    Patch::Keep => {}
                    Patch::Clear => {
                        details.insert("partner".into(), json!({ "to": null }));
                    }
                    Patch::Set(p) => {
                        details.insert("partner".into(), json!({ "to": p }));
                    }
                }
                super::profile::apply(tx.conn, current.id, input.profile.clone(), &mut details)
                    .await?;
                if details.is_empty() {
                    return Err(AppError::bad_input("input", "nothing to change"));
                }
                tx.audit.details = serde_json::Value::Object(details);
                if let Some(plan) = &changes.plan
                    && let Some((_, seats)) =
                        subscription::live_stripe_subscription(tx.conn, current.id).await?
                {
                    // Stripe moves the subscription to the new plan's price and prorates.
                    let change = SubscriptionJob::Change {
                        tenant: current.id,
                        plan: plan.clone(),
                        seats,
                    };
                    subscription::queue(tx.conn, &change).await?;
                }
                let row = diesel::update(tenants::table.find(current.id))
                    .set((&changes, tenants::updated_at.eq(diesel::dsl::now)))
                    .returning(TenantRow::as_returning())
                    .get_result(tx.conn)
                    .await?;
                if matches!(changes.primary_domain, Some(Some(_))) {
                    crate::domain::domains::changes::queue_ensure_primary(
                        tx.conn,
                        row.id,
                        max_attempts,
                    )
                    .await?;
                }
                tx.audit.partner_id = row.partner_id.or(current.partner_id);
                events::notify(tx.conn, &Event::TenantChanged(row.id.uuid())).await?;
                Ok(row)
            },
        )
        .await
}
