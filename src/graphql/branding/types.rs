//! The branding types.

use async_graphql::{Object, SimpleObject};
use chrono::{DateTime, Utc};

pub use crate::domain::branding::BrandingSource;
use crate::domain::branding::color::readable_text_color;
pub use crate::domain::branding::templates::EmailTemplateKey;
use crate::domain::branding::templates::Variable;
use crate::domain::branding::{Effective, EffectiveTemplate, OwnBranding, TemplateRow};

/// What a tenant or partner sets itself; `null` fields are inherited (see
/// `effectiveBranding`).
pub struct Branding(pub OwnBranding);

/// What a tenant or partner sets itself; `null` fields are inherited.
#[Object]
impl Branding {
    /// Product name shown in the portal and emails; `null` inherits.
    async fn product_name(&self) -> Option<&str> {
        self.0.row.product_name.as_deref()
    }

    /// Accent colour, `#rrggbb`; `null` inherits.
    async fn accent_color(&self) -> Option<&str> {
        self.0.row.accent_color.as_deref()
    }

    /// Logo URL (https); `null` inherits.
    async fn logo_url(&self) -> Option<&str> {
        self.0.row.logo_url.as_deref()
    }

    /// Black (`#000000`) or white (`#ffffff`) text, whichever reads better on
    /// `accentColor` by the YIQ brightness rule (`(299R + 587G + 114B) / 1000 ≥ 128` →
    /// black); `null` when no accent colour is set.
    async fn readable_text_color(&self) -> Option<&'static str> {
        self.0
            .row
            .accent_color
            .as_deref()
            .and_then(readable_text_color)
    }

    /// The templates this tenant or partner overrides (others are inherited), by key.
    async fn email_templates(&self) -> Vec<EmailTemplate> {
        self.0
            .templates
            .iter()
            .cloned()
            .map(EmailTemplate)
            .collect()
    }
}

/// An overridden email template.
pub struct EmailTemplate(pub TemplateRow);

/// An overridden email template.
#[Object]
impl EmailTemplate {
    /// Which email.
    async fn key(&self) -> EmailTemplateKey {
        self.0.key
    }

    /// Subject template (plain text, minijinja).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Body template (HTML, minijinja, autoescaped).
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When it was last saved.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One effective value and where it came from.
#[derive(SimpleObject)]
pub struct BrandingValue {
    /// The value (`null` only for a logo nobody set).
    pub value: Option<String>,
    /// Where it came from.
    pub source: BrandingSource,
}

/// The branding in force: each field from the tenant, else its partner, else the default.
pub struct EffectiveBranding(pub Effective);

/// The branding in force: each field from the tenant, else its partner, else the default.
#[Object]
impl EffectiveBranding {
    /// Product name.
    async fn product_name(&self) -> BrandingValue {
        BrandingValue {
            value: Some(self.0.product_name.value.clone()),
            source: self.0.product_name.source,
        }
    }

    /// Accent colour, `#rrggbb`.
    async fn accent_color(&self) -> BrandingValue {
        BrandingValue {
            value: Some(self.0.accent_color.value.clone()),
            source: self.0.accent_color.source,
        }
    }

    /// Logo URL (https); `value` is `null` when nobody set one.
    async fn logo_url(&self) -> BrandingValue {
        BrandingValue {
            value: self.0.logo_url.value.clone(),
            source: self.0.logo_url.source,
        }
    }

    /// Black or white text for the effective accent colour (YIQ rule, see
    /// `Branding.readableTextColor`).
    async fn readable_text_color(&self) -> &'static str {
        readable_text_color(&self.0.accent_color.value).unwrap_or("#ffffff")
    }

    /// Every email template in force, one per key.
    async fn email_templates(&self) -> Vec<EffectiveEmailTemplate> {
        self.0
            .templates
            .iter()
            .cloned()
            .map(EffectiveEmailTemplate)
            .collect()
    }
}

/// An email template in force.
pub struct EffectiveEmailTemplate(pub EffectiveTemplate);

/// An email template in force.
#[Object]
impl EffectiveEmailTemplate {
    /// Which email.
    async fn key(&self) -> EmailTemplateKey {
        self.0.key
    }

    /// Subject template.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Body template.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Where it came from.
    async fn source(&self) -> BrandingSource {
        self.0.source
    }
}

/// A variable an email template may use.
pub struct TemplateVariable(pub Variable);

/// A variable an email template may use.
#[Object]
impl TemplateVariable {
    /// Its name (`{{ name }}` in a template).
    async fn name(&self) -> &'static str {
        self.0.name
    }

    /// What it holds.
    async fn description(&self) -> &'static str {
        self.0.description
    }

    /// The value previews use unless another is given.
    async fn sample(&self) -> &'static str {
        self.0.sample
    }
}

/// An email that can be templated, with the variables it offers.
pub struct EmailTemplateKeyInfo(pub EmailTemplateKey);

/// An email that can be templated, with the variables it offers.
#[Object]
impl EmailTemplateKeyInfo {
    /// The key.
    async fn key(&self) -> EmailTemplateKey {
        self.0
    }

    /// The variables its templates may use (any other is refused on save).
    async fn variables(&self) -> Vec<TemplateVariable> {
        self.0
            .variables()
            .into_iter()
            .map(TemplateVariable)
            .collect()
    }

    /// The built-in subject template.
    async fn default_subject(&self) -> &'static str {
        self.0.default_template().0
    }

    /// The built-in body template.
    async fn default_body(&self) -> &'static str {
        self.0.default_template().1
    }
}

/// A rendered email.
#[derive(SimpleObject)]
pub struct RenderedEmail {
    /// The subject.
    pub subject: String,
    /// The body (HTML; variables escaped).
    pub body: String,
}
