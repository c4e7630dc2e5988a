//! Branding queries: the template catalogue and previews.

use async_graphql::{Context, InputObject, Json, Object};

use crate::auth::ContextAuth;
use crate::domain::branding::changes::Target;
use crate::domain::branding::preview::{self, PreviewRequest};
use crate::error::ApiResult;
use crate::graphql::branding::types::{EmailTemplateKey, EmailTemplateKeyInfo, RenderedEmail};

/// Input of `previewEmailTemplate`.
#[derive(InputObject)]
pub struct PreviewEmailTemplateInput {
    /// The email.
    pub key: EmailTemplateKey,
    /// Slug of the tenant whose template and product name to use (its admins, its
    /// partner's staff, operators).
    pub tenant: Option<String>,
    /// Slug of the partner whose template and product name to use (its admins, operators).
    pub partner: Option<String>,
    /// A draft subject to render instead of the template in force (with `body`).
    pub subject: Option<String>,
    /// A draft body to render instead of the template in force (with `subject`).
    pub body: Option<String>,
    /// Values for some of the key's variables, by name (the rest are the documented samples);
    /// a name the key does not offer is refused.
    pub sample: Option<Json<serde_json::Value>>,
}

/// Branding queries.
#[derive(Default)]
pub struct BrandingQuery;

#[Object]
impl BrandingQuery {
    /// Every email that can be templated, with the variables each offers and its built-in
    /// template. Any signed-in caller.
    async fn email_template_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<EmailTemplateKeyInfo>> {
        ctx.viewer().await?;
        Ok(EmailTemplateKey::ALL
            .iter()
            .copied()
            .map(EmailTemplateKeyInfo)
            .collect())
    }

    /// Renders one email template with sample values: a draft (`subject` and `body`), else
    /// the template in force for the tenant or partner named, else the built-in one.
    /// Variables are HTML-escaped in the body. An invalid draft is `BAD_USER_INPUT` with
    /// the line.
    async fn preview_email_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to render.")] input: PreviewEmailTemplateInput,
    ) -> ApiResult<RenderedEmail> {
        let viewer = ctx.viewer().await?;
        let target = match (input.tenant, input.partner) {
            (None, None) => None,
            (t, p) => Some(Target::from_input(t, p)?),
        };
        let draft = match (input.subject, input.body) {
            (Some(s), Some(b)) => Some((s, b)),
            (None, None) => None,
            _ => {
                return Err(crate::error::AppError::bad_input(
                    "input",
                    "give both subject and body for a draft, or neither",
                )
                .into());
            }
        };
        let mut conn = ctx.data_unchecked::<crate::db::DbPool>().get().await?;
        let rendered = preview::preview(
            &mut conn,
            &viewer,
            PreviewRequest {
                key: input.key,
                target,
                draft,
                sample: input.sample.map(|j| j.0),
            },
        )
        .await?;
        Ok(RenderedEmail {
            subject: rendered.subject,
            body: rendered.body,
        })
    }
}
