//! `previewEmailTemplate`: renders one template — a draft, or the one in force for a tenant or
//! partner — with the key's sample values (overridable), under the product name in force.

use diesel_async::AsyncPgConnection;

use super::changes::Target;
use super::templates::{CheckedTemplate, EmailTemplateKey, Rendered, sample_values};
use super::{BrandingSource, Effective, Owner, effective, own_brandings};
use crate::auth::{PartnerAccess, TenantAccess, Viewer};
use crate::domain::{partners, tenants};
use crate::error::{AppError, AppResult};

/// What to preview.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// The email.
    pub key: EmailTemplateKey,
    /// Whose template and branding (none: the defaults).
    pub target: Option<Target>,
    /// A draft `(subject, body)` to render instead of the template in force.
    pub draft: Option<(String, String)>,
    /// Values for some of the key's variables (the rest are its samples).
    pub sample: Option<serde_json::Value>,
}

/// The effective branding of what `target` names, checking the viewer may change it
/// (a preview shows drafts of what they may save).
async fn effective_for(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    target: &Target,
) -> AppResult<Effective> {
    match target {
        Target::Tenant(slug) => {
            let tenant = tenants::visible_by_slug(conn, viewer, slug).await?;
            if viewer.tenant_access(tenant.tenant_ref()) < TenantAccess::Admin {
                return Err(AppError::Forbidden("tenant admin access required".into()));
            }
            let mut owners = vec![Owner::Tenant(tenant.id)];
            owners.extend(tenant.partner_id.map(Owner::Partner));
            let own = own_brandings(conn, &owners).await?;
            let inherited = tenant.partner_id.and_then(|p| own.get(&Owner::Partner(p)));
            Ok(effective(
                &own[&Owner::Tenant(tenant.id)],
                BrandingSource::Tenant,
                inherited,
            ))
        }
        Target::Partner(slug) => {
            let partner = partners::visible_by_slug(conn, viewer, slug).await?;
            if viewer.partner_access(partner.id) < PartnerAccess::Admin {
                return Err(AppError::Forbidden("the partner's admins only".into()));
            }
            let own = own_brandings(conn, &[Owner::Partner(partner.id)]).await?;
            Ok(effective(
                &own[&Owner::Partner(partner.id)],
                BrandingSource::Partner,
                None,
            ))
        }
    }
}

/// Renders the preview.
pub async fn preview(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    request: PreviewRequest,
) -> AppResult<Rendered> {
    let key = request.key;
    let effective = match &request.target {
        Some(target) => Some(effective_for(conn, viewer, target).await?),
        None => None,
    };
    let template = match (&request.draft, &effective) {
        (Some((subject, body)), _) => CheckedTemplate::parse(key, subject, body, "input")?,
        (None, Some(e)) => {
            let t = e
                .templates
                .iter()
                .find(|t| t.key == key)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("no template for {key}")))?;
            CheckedTemplate {
                subject: t.subject.clone(),
                body: t.body.clone(),
            }
        }
        (None, None) => super::templates::default_checked(key),
    };
    let mut values = key.sample();
    if let Some(e) = &effective {
        values.insert("product_name".into(), e.product_name.value.clone());
    }
    let given = sample_values(key, request.sample.as_ref(), "input.sample")?;
    if let Some(sample) = request.sample.as_ref().and_then(|s| s.as_object()) {
        for name in sample.keys() {
            values.insert(name.clone(), given[name].clone());
        }
    }
    template.render(&values)
}
