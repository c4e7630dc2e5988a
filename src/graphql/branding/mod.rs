//! White-label branding and email templates in the graph: `Tenant.branding`,
//! `Tenant.effectiveBranding` (and the same on `Partner`), `updateBranding`,
//! `updateEmailTemplate`, `emailTemplateKeys` and `previewEmailTemplate`.

pub mod loaders;
pub mod mutation;
pub mod query;
pub mod types;
