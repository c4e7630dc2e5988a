//! Branding mutations: thin wrappers over `domain::branding::changes`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::domain::branding::changes::{self, BrandingUpdate, Target, TemplateUpdate};
use crate::error::ApiResult;
use crate::graphql::branding::types::{Branding, EmailTemplateKey};
use crate::graphql::context::caller;
use crate::graphql::patch::patch;

/// Input of `updateBranding`: name exactly one of `tenant` and `partner`. Omitted fields
/// stay; `null` clears a field so it is inherited again.
#[derive(InputObject)]
pub struct UpdateBrandingInput {
    /// Slug of the tenant (its admins and owners, its partner's staff, operators).
    pub tenant: Option<String>,
    /// Slug of the partner (its staff admins, operators).
    pub partner: Option<String>,
    /// Product name (1–200 characters).
    pub product_name: MaybeUndefined<String>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: MaybeUndefined<String>,
    /// Logo URL; `https://` only.
    pub logo_url: MaybeUndefined<String>,
}

/// Input of `updateEmailTemplate`: name exactly one of `tenant` and `partner`.
#[derive(InputObject)]
pub struct UpdateEmailTemplateInput {
    /// Slug of the tenant.
    pub tenant: Option<String>,
    /// Slug of the partner.
    pub partner: Option<String>,
    /// The email.
    pub key: EmailTemplateKey,
    /// Subject template (one line, at most 300 characters); with `body`. Omit both to drop
    /// the override and inherit again.
    pub subject: Option<String>,
    /// Body template (HTML, at most 64 KiB); with `subject`.
    pub body: Option<String>,
}

/// A tenant's or partner's branding after a mutation.
#[derive(SimpleObject)]
pub struct BrandingPayload {
    /// What it sets itself now (see `Tenant.effectiveBranding` for what is in force).
    pub branding: Branding,
}

/// Branding mutations.
#[derive(Default)]
pub struct BrandingMutation;

#[Object]
impl BrandingMutation {
    /// Sets or clears a tenant's or partner's product name, accent colour and logo; a cleared
    /// field is inherited again (tenant from its partner, then the defaults). Audited
    /// (`branding.update`, with each changed field).
    async fn update_branding(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose branding and the fields to change.")] input: UpdateBrandingInput,
    ) -> ApiResult<BrandingPayload> {
        let caller = caller(ctx).await?;
        let target = Target::from_input(input.tenant, input.partner)?;
        let update = BrandingUpdate {
            product_name: patch(input.product_name),
            accent_color: patch(input.accent_color),
            logo_url: patch(input.logo_url),
        };
        let own = changes::update(&caller, &target, update).await?;
        Ok(BrandingPayload {
            branding: Branding(own),
        })
    }

    /// Overrides one email template of a tenant or partner (validated: syntax, only the
    /// key's variables, a render with its samples — errors name the line), or drops the
    /// override when `subject` and `body` are omitted. Same access as `updateBranding`.
    /// Audited (`email_template.update`, with the key; the text is not logged).
    async fn update_email_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose template, which, and the new text.")]
        input: UpdateEmailTemplateInput,
    ) -> ApiResult<BrandingPayload> {
        let caller = caller(ctx).await?;
        let target = Target::from_input(input.tenant, input.partner)?;
        let template = match (input.subject, input.body) {
            (Some(s), Some(b)) => Some((s, b)),
            (None, None) => None,
            _ => {
                return Err(crate::error::AppError::bad_input(
                    "input",
                    "give both subject and body, or neither to reset",
                )
                .into());
            }
        };
        let update = TemplateUpdate {
            key: input.key,
            template,
        };
        let own = changes::update_template(&caller, &target, update).await?;
        Ok(BrandingPayload {
            branding: Branding(own),
        })
    }
}
