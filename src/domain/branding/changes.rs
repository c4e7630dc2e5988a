//! `updateBranding` and `updateEmailTemplate`, through the audited runner.
//!
//! Who may: for a tenant, its admins and owners, its partner's staff and operators
//! (`TenantAccess::Admin` and up); for a partner, its staff admins and operators
//! (`PartnerAccess::Admin`). Anyone else who may see the target gets `FORBIDDEN`, who may
//! not `NOT_FOUND`. Invalid input writes nothing but the audit row.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use super::color::HexColor;
use super::logo::LogoUrl;
use super::templates::{CheckedTemplate, EmailTemplateKey};
use super::{BrandingRow, OwnBranding, Owner, own_brandings};
use crate::auth::{PartnerAccess, TenantAccess};
use crate::db::schema::{brandings, email_templates};
use crate::domain::audit::change::{Caller, Tx, need};
use crate::domain::patch::Patch;
use crate::error::{AppError, AppResult};

/// Whose branding a mutation changes: a tenant or a partner, by slug.
#[derive(Debug, Clone)]
pub enum Target {
    /// A tenant's.
    Tenant(String),
    /// A partner's.
    Partner(String),
}

impl Target {
    /// Exactly one of `tenant` and `partner`, else `BAD_USER_INPUT` on `input`.
    pub fn from_input(tenant: Option<String>, partner: Option<String>) -> AppResult<Self> {
        match (tenant, partner) {
            (Some(t), None) => Ok(Self::Tenant(t)),
            (None, Some(p)) => Ok(Self::Partner(p)),
            _ => Err(AppError::bad_input(
                "input",
                "name exactly one of tenant and partner",
            )),
        }
    }
}

/// Input of `updateBranding`: each field kept, set, or cleared (cleared = inherit again).
#[derive(Debug, Clone, Default)]
pub struct BrandingUpdate {
    /// Product name.
    pub product_name: Patch<String>,
    /// Accent colour.
    pub accent_color: Patch<String>,
    /// Logo URL.
    pub logo_url: Patch<String>,
}

/// Input of `updateEmailTemplate`: a new template for `key`, or `None` to drop the override.
#[derive(Debug, Clone)]
pub struct TemplateUpdate {
    /// The key.
    pub key: EmailTemplateKey,
    /// `(subject, body)`, or `None` to inherit again.
    pub template: Option<(String, String)>,
}

/// Runs `$body` (an expression using `$tx: &mut Tx` and `$owner: Owner`) on the owner named
/// by `$target`, with the access a branding change needs.
macro_rules! on_owner {
    ($caller:expr, $action:expr, $target:expr, |$tx:ident, $owner:ident| $body:expr) => {
        match $target {
            Target::Tenant(slug) => {
                $caller
                    .change($action, "tenant")
                    .run(
                        need::tenant(slug, TenantAccess::Admin),
                        async move |mut tx, tenant| {
                            let ($tx, $owner) = (&mut tx, Owner::Tenant(tenant.id));
                            $body.await
                        },
                    )
                    .await
            }
            Target::Partner(slug) => {
                $caller
                    .change($action, "partner")
                    .run(
                        need::partner(slug, PartnerAccess::Admin),
                        async move |mut tx, partner| {
                            let ($tx, $owner) = (&mut tx, Owner::Partner(partner.id));
                            $body.await
                        },
                    )
                    .await
            }
        }
    };
}

async fn own(conn: &mut AsyncPgConnection, owner: Owner) -> AppResult<OwnBranding> {
    Ok(own_brandings(conn, &[owner])
        .await?
        .remove(&owner)
        .unwrap_or_default())
}

fn changed(
    details: &mut serde_json::Map<String, Value>,
    name: &str,
    from: &Option<String>,
    to: &Option<String>,
) {
    if from != to {
        details.insert(name.into(), json!({ "from": from, "to": to }));
    }
}

/// `updateBranding`: returns what the owner sets afterwards.
pub async fn update(
    caller: &Caller,
    target: &Target,
    input: BrandingUpdate,
) -> AppResult<OwnBranding> {
    on_owner!(caller, "branding.update", target, |tx, owner| apply_update(
        tx,
        owner,
        input.clone()
    ))
}

async fn apply_update(
    tx: &mut Tx<'_>,
    owner: Owner,
    input: BrandingUpdate,
) -> AppResult<OwnBranding> {
    {
        if !(input.product_name.changes()
            || input.accent_color.changes()
            || input.logo_url.changes())
        {
            return Err(AppError::bad_input("input", "nothing to change"));
        }
        let product_name = input.product_name.try_map(|n| {
            crate::domain::values::Name::parse(&n, "input.productName")
                .map(|n| n.as_str().to_owned())
        })?;
        let accent_color = input
            .accent_color
            .try_map(|c| HexColor::parse(&c, "input.accentColor").map(|c| c.as_str().to_owned()))?;
        let logo_url = input
            .logo_url
            .try_map(|u| LogoUrl::parse(&u, "input.logoUrl").map(|u| u.as_str().to_owned()))?;
        let current = own(tx.conn, owner).await?.row;
        let apply = |patch: Patch<String>, old: &Option<String>| match patch {
            Patch::Keep => old.clone(),
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        };
        let next = BrandingRow {
            tenant_id: match owner {
                Owner::Tenant(t) => Some(t),
                Owner::Partner(_) => None,
            },
            partner_id: match owner {
                Owner::Partner(p) => Some(p),
                Owner::Tenant(_) => None,
            },
            product_name: apply(product_name, &current.product_name),
            accent_color: apply(accent_color, &current.accent_color),
            logo_url: apply(logo_url, &current.logo_url),
        };
        let mut details = serde_json::Map::new();
        changed(
            &mut details,
            "productName",
            &current.product_name,
            &next.product_name,
        );
        changed(
            &mut details,
            "accentColor",
            &current.accent_color,
            &next.accent_color,
        );
        changed(&mut details, "logoUrl", &current.logo_url, &next.logo_url);
        tx.audit.details = Value::Object(details);
        let values = (
            brandings::tenant_id.eq(next.tenant_id),
            brandings::partner_id.eq(next.partner_id),
            brandings::product_name.eq(&next.product_name),
            brandings::accent_color.eq(&next.accent_color),
            brandings::logo_url.eq(&next.logo_url),
        );
        let set = (
            brandings::product_name.eq(&next.product_name),
            brandings::accent_color.eq(&next.accent_color),
            brandings::logo_url.eq(&next.logo_url),
            brandings::updated_at.eq(diesel::dsl::now),
        );
        let insert = diesel::insert_into(brandings::table).values(values);
        match owner {
            Owner::Tenant(_) => {
                insert
                    .on_conflict(brandings::tenant_id)
                    .do_update()
                    .set(set)
                    .execute(tx.conn)
                    .await?
            }
            Owner::Partner(_) => {
                insert
                    .on_conflict(brandings::partner_id)
                    .do_update()
                    .set(set)
                    .execute(tx.conn)
                    .await?
            }
        };
        own(tx.conn, owner).await
    }
}

/// `updateEmailTemplate`: validates the template for its key (syntax, variables, a render
/// with the key's sample) and stores it, or drops the override. Returns what the owner
/// sets afterwards. The audit row names the key, not the template text.
pub async fn update_template(
    caller: &Caller,
    target: &Target,
    input: TemplateUpdate,
) -> AppResult<OwnBranding> {
    on_owner!(caller, "email_template.update", target, |tx, owner| {
        apply_template(tx, owner, input.clone())
    })
}

async fn apply_template(
    tx: &mut Tx<'_>,
    owner: Owner,
    input: TemplateUpdate,
) -> AppResult<OwnBranding> {
    {
        tx.audit.details = json!({ "key": input.key.as_str(), "reset": input.template.is_none() });
        let checked = input
            .template
            .as_ref()
            .map(|(subject, body)| CheckedTemplate::parse(input.key, subject, body, "input"))
            .transpose()?;
        let (tenant_id, partner_id) = match owner {
            Owner::Tenant(t) => (Some(t), None),
            Owner::Partner(p) => (None, Some(p)),
        };
        let ids: Vec<uuid::Uuid> = email_templates::table
            .filter(email_templates::key.eq(input.key))
            .filter(email_templates::tenant_id.is_not_distinct_from(tenant_id))
            .filter(email_templates::partner_id.is_not_distinct_from(partner_id))
            .select(email_templates::id)
            .for_update()
            .load(tx.conn)
            .await?;
        if checked.is_none() && ids.is_empty() {
            return Err(AppError::bad_input(
                "input.key",
                "this template is not overridden, so there is nothing to reset",
            ));
        }
        diesel::delete(email_templates::table.filter(email_templates::id.eq_any(&ids)))
            .execute(tx.conn)
            .await?;
        if let Some(t) = &checked {
            diesel::insert_into(email_templates::table)
                .values((
                    email_templates::tenant_id.eq(tenant_id),
                    email_templates::partner_id.eq(partner_id),
                    email_templates::key.eq(input.key),
                    email_templates::subject.eq(&t.subject),
                    email_templates::body.eq(&t.body),
                ))
                .execute(tx.conn)
                .await?;
        }
        own(tx.conn, owner).await
    }
}
