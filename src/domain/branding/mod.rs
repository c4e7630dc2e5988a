//! White-label branding of tenants and partners, and their email templates.
//!
//! A tenant or partner stores only what it sets itself (`brandings`, `email_templates`);
//! everything else is inherited **field by field**: a tenant of a partner takes each unset
//! field from the partner, and what neither sets comes from the product defaults. The
//! effective branding names where each value came from ([`BrandingSource`]). Changes are in
//! [`changes`]; colours, logo URLs and templates are checked by [`color`], [`logo`] and
//! [`templates`].

pub mod changes;
pub mod color;
pub mod logo;
pub mod preview;
pub mod templates;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{brandings, email_templates};
use crate::domain::ids::{PartnerId, TenantId};
use templates::EmailTemplateKey;

/// The product name when neither the tenant nor its partner sets one.
pub const DEFAULT_PRODUCT_NAME: &str = "Dezky";
/// The accent colour when neither the tenant nor its partner sets one.
pub const DEFAULT_ACCENT_COLOR: &str = "#2563eb";

/// Whose branding: a tenant's or a partner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A tenant.
    Tenant(TenantId),
    /// A partner.
    Partner(PartnerId),
}

crate::text_enum! {
    /// Where an effective branding value comes from.
    #[derive(async_graphql::Enum)]
    pub enum BrandingSource {
        /// Set by the tenant itself.
        Tenant = "tenant",
        /// Inherited from the tenant's partner (or set by the partner, for a partner).
        Partner = "partner",
        /// The product default (nobody set it).
        Default = "default",
    }
}

/// The `brandings` columns: what one owner sets (`None` = inherit).
#[derive(Queryable, Selectable, Debug, Clone, Default, PartialEq, Eq)]
#[diesel(table_name = brandings)]
pub struct BrandingRow {
    /// The tenant, for a tenant's branding.
    pub tenant_id: Option<TenantId>,
    /// The partner, for a partner's branding.
    pub partner_id: Option<PartnerId>,
    /// Product name.
    pub product_name: Option<String>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: Option<String>,
    /// Logo URL (https).
    pub logo_url: Option<String>,
}

/// The `email_templates` columns: one owner's override of one key.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = email_templates)]
pub struct TemplateRow {
    /// The tenant, for a tenant's template.
    pub tenant_id: Option<TenantId>,
    /// The partner, for a partner's template.
    pub partner_id: Option<PartnerId>,
    /// The key.
    pub key: EmailTemplateKey,
    /// Subject template.
    pub subject: String,
    /// Body template.
    pub body: String,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What one owner sets: its branding fields and its template overrides (by key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnBranding {
    /// The fields it sets.
    pub row: BrandingRow,
    /// Its template overrides, in key order.
    pub templates: Vec<TemplateRow>,
}

impl OwnBranding {
    /// Its override of `key`, if any.
    pub fn template(&self, key: EmailTemplateKey) -> Option<&TemplateRow> {
        self.templates.iter().find(|t| t.key == key)
    }
}

/// One effective value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value (`None` only for a logo nobody set).
    pub value: T,
    /// Where it came from.
    pub source: BrandingSource,
}

/// One effective template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTemplate {
    /// The key.
    pub key: EmailTemplateKey,
    /// Subject template.
    pub subject: String,
    /// Body template.
    pub body: String,
    /// Where it came from.
    pub source: BrandingSource,
}

/// The branding in force for a tenant or partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// Product name.
    pub product_name: Sourced<String>,
    /// Accent colour.
    pub accent_color: Sourced<String>,
    /// Logo URL.
    pub logo_url: Sourced<Option<String>>,
    /// Every template key.
    pub templates: Vec<EffectiveTemplate>,
}

fn pick<T: Clone>(
    own: Option<&T>,
    own_source: BrandingSource,
    inherited: Option<&T>,
    default: T,
) -> Sourced<T> {
    match (own, inherited) {
        (Some(v), _) => Sourced {
            value: v.clone(),
            source: own_source,
        },
        (None, Some(v)) => Sourced {
            value: v.clone(),
            source: BrandingSource::Partner,
        },
        (None, None) => Sourced {
            value: default,
            source: BrandingSource::Default,
        },
    }
}

/// The effective branding of a tenant (`own`, with its partner's `inherited`) or of a
/// partner (`own` is the partner's, `inherited` is `None`).
pub fn effective(
    own: &OwnBranding,
    own_source: BrandingSource,
    inherited: Option<&OwnBranding>,
) -> Effective {
    let parent = inherited.map(|p| &p.row);
    let product_name = pick(
        own.row.product_name.as_ref(),
        own_source,
        parent.and_then(|p| p.product_name.as_ref()),
        DEFAULT_PRODUCT_NAME.to_owned(),
    );
    let accent_color = pick(
        own.row.accent_color.as_ref(),
        own_source,
        parent.and_then(|p| p.accent_color.as_ref()),
        DEFAULT_ACCENT_COLOR.to_owned(),
    );
    let logo = pick(
        own.row.logo_url.as_ref(),
        own_source,
        parent.and_then(|p| p.logo_url.as_ref()),
        String::new(),
    );
    let logo_url = Sourced {
        value: (logo.source != BrandingSource::Default).then_some(logo.value),
        source: logo.source,
    };
    let templates = EmailTemplateKey::ALL
        .iter()
        .map(|&key| {
            let (subject, body, source) =
                match (own.template(key), inherited.and_then(|p| p.template(key))) {
                    (Some(t), _) => (t.subject.clone(), t.body.clone(), own_source),
                    (None, Some(t)) => (t.subject.clone(), t.body.clone(), BrandingSource::Partner),
                    (None, None) => {
                        let (s, b) = key.default_template();
                        (s.to_owned(), b.to_owned(), BrandingSource::Default)
                    }
                };
            EffectiveTemplate {
                key,
                subject,
                body,
                source,
            }
        })
        .collect();
    Effective {
        product_name,
        accent_color,
        logo_url,
        templates,
    }
}

/// What each of `owners` sets, in two statements whatever their number.
pub async fn own_brandings(
    conn: &mut AsyncPgConnection,
    owners: &[Owner],
) -> QueryResult<std::collections::HashMap<Owner, OwnBranding>> {
    let tenants: Vec<TenantId> = owners
        .iter()
        .filter_map(|o| match o {
            Owner::Tenant(t) => Some(*t),
            Owner::Partner(_) => None,
        })
        .collect();
    let partners: Vec<PartnerId> = owners
        .iter()
        .filter_map(|o| match o {
            Owner::Partner(p) => Some(*p),
            Owner::Tenant(_) => None,
        })
        .collect();
    let mut out: std::collections::HashMap<Owner, OwnBranding> = owners
        .iter()
        .map(|o| (*o, OwnBranding::default()))
        .collect();
    if owners.is_empty() {
        return Ok(out);
    }
    let rows: Vec<BrandingRow> = brandings::table
        .filter(
            brandings::tenant_id
                .eq_any(&tenants)
                .or(brandings::partner_id.eq_any(&partners)),
        )
        .select(BrandingRow::as_select())
        .load(conn)
        .await?;
    let templates: Vec<TemplateRow> = email_templates::table
        .filter(
            email_templates::tenant_id
                .eq_any(&tenants)
                .or(email_templates::partner_id.eq_any(&partners)),
        )
        .order(email_templates::key.asc())
        .select(TemplateRow::as_select())
        .load(conn)
        .await?;
    let owner_of =
        |t: Option<TenantId>, p: Option<PartnerId>| t.map(Owner::Tenant).or(p.map(Owner::Partner));
    for row in rows {
        if let Some(entry) = owner_of(row.tenant_id, row.partner_id).and_then(|o| out.get_mut(&o)) {
            entry.row = row;
        }
    }
    for t in templates {
        if let Some(entry) = owner_of(t.tenant_id, t.partner_id).and_then(|o| out.get_mut(&o)) {
            entry.templates.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(product: Option<&str>, accent: Option<&str>) -> OwnBranding {
        OwnBranding {
            row: BrandingRow {
                product_name: product.map(Into::into),
                accent_color: accent.map(Into::into),
                ..BrandingRow::default()
            },
            templates: vec![],
        }
    }

    #[test]
    fn fields_inherit_one_by_one() {
        let partner = own(Some("Resell Mail"), Some("#ff0000"));
        let tenant = own(None, Some("#00ff00"));
        let e = effective(&tenant, BrandingSource::Tenant, Some(&partner));
        assert_eq!(
            e.product_name,
            Sourced {
                value: "Resell Mail".into(),
                source: BrandingSource::Partner
            }
        );
        assert_eq!(
            e.accent_color,
            Sourced {
                value: "#00ff00".into(),
                source: BrandingSource::Tenant
            }
        );
        assert_eq!(
            e.logo_url,
            Sourced {
                value: None,
                source: BrandingSource::Default
            }
        );
        assert!(
            e.templates
                .iter()
                .all(|t| t.source == BrandingSource::Default)
        );
        let alone = effective(&OwnBranding::default(), BrandingSource::Tenant, None);
        assert_eq!(alone.product_name.value, DEFAULT_PRODUCT_NAME);
        assert_eq!(alone.accent_color.source, BrandingSource::Default);
    }
}
