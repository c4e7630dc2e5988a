//! Requests and answers of the Authentik client (a small, typed subset of the schema).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::upstream::Secret;

/// The attribute that records our tenant id on a group.
pub const TENANT_ID_ATTRIBUTE: &str = "dezky_tenant_id";
/// The attribute that records our tenant slug on a group.
pub const TENANT_SLUG_ATTRIBUTE: &str = "dezky_tenant_slug";

/// A tenant's group: named after the tenant's slug (the `groups` claim carries group names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantGroup {
    /// Our tenant id.
    pub tenant_id: String,
    /// The tenant's slug; also the group's name.
    pub tenant_slug: String,
}

/// The attribute that records our partner id on a partner's staff group.
pub const PARTNER_ID_ATTRIBUTE: &str = "dezky_partner_id";
/// The attribute that records our partner slug on a partner's staff group.
pub const PARTNER_SLUG_ATTRIBUTE: &str = "dezky_partner_slug";

/// A partner's staff group, named `dezky-partner-<slug>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerGroup {
    /// Our partner id.
    pub partner_id: String,
    /// The partner's slug.
    pub partner_slug: String,
}

impl PartnerGroup {
    /// The group's name.
    pub fn name(&self) -> String {
        format!("dezky-partner-{}", self.partner_slug)
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Group {
    /// Its uuid.
    pub pk: String,
    /// Its name.
    pub name: String,
    /// Free-form attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewUser {
    /// Unique user name (1–150 characters).
    pub username: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Directory path (Authentik's folder for users), e.g. `dezky/<tenant>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// Integer primary key (used in URLs).
    pub pk: i64,
    /// Its uuid.
    pub uuid: String,
    /// User name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// E-mail address (Authentik answers `""` when unset).
    #[serde(default)]
    pub email: String,
    /// Whether the user may sign in.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// The user's stable id (the OIDC `sub` under Authentik's default hashed-id mode).
    #[serde(default)]
    pub uid: String,
    /// When the user last signed in (`null` if never).
    #[serde(default)]
    pub last_login: Option<chrono::DateTime<chrono::Utc>>,
}

fn yes() -> bool {
    true
}

/// Changes to a user; `None` fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUpdate {
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Who a session operation is about: the pk and the username must both match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Integer primary key.
    pub pk: i64,
    /// User name (the only user filter the sessions endpoint has).
    pub username: String,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    /// Its uuid.
    pub uuid: String,
    /// The user's pk.
    pub user: i64,
    /// Last client address.
    #[serde(default)]
    pub last_ip: String,
    /// Last use (RFC 3339).
    #[serde(default)]
    pub last_used: Option<String>,
    /// Expiry (RFC 3339).
    #[serde(default)]
    pub expires: Option<String>,
}

/// How a redirect URI is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    /// Exact match.
    Strict,
    /// Regular expression.
    Regex,
}

/// An allowed redirect URI (2025.10: objects, no longer a newline-separated string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    /// How `url` is matched.
    pub matching_mode: MatchingMode,
    /// The URI or pattern.
    pub url: String,
}

/// An OAuth2/OIDC provider to create (the four required fields of `OAuth2ProviderRequest`,
/// `invalidation_flow` included, plus what a tenant SSO app needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2ProviderSpec {
    /// Unique name.
    pub name: String,
    /// Authorization flow uuid (e.g. of `default-provider-authorization-implicit-consent`).
    pub authorization_flow: String,
    /// Invalidation flow uuid (e.g. of `default-provider-invalidation-flow`); required
    /// since 2025.x.
    pub invalidation_flow: String,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<RedirectUri>,
    /// Signing key uuid (RS256/ES256); `None` means HS256 with the client secret.
    pub signing_key: Option<String>,
    /// Scope mapping uuids.
    pub property_mappings: Vec<String>,
}

/// An OAuth2 provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Provider {
    /// Integer primary key.
    pub pk: i64,
    /// Name.
    pub name: String,
    /// The client id.
    pub client_id: String,
    /// The client secret (confidential clients).
    pub client_secret: Secret,
    /// The slug of the application using it, if any.
    pub assigned_application_slug: Option<String>,
}

/// An application to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSpec {
    /// Slug (≤ 50 characters of `[-a-zA-Z0-9_]`); the key in URLs.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The provider's pk.
    pub provider: i64,
    /// Where the app lives, shown in the user's library.
    pub launch_url: Option<String>,
}

/// An application.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Application {
    /// Its uuid: the target of policy bindings.
    pub pk: String,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// The provider's pk.
    pub provider: Option<i64>,
}

/// A policy binding (here: a group allowed into an application).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PolicyBinding {
    /// Its uuid.
    pub pk: String,
    /// The bound object's uuid (the application's `pk`).
    pub target: String,
    /// The group, for group bindings.
    pub group: Option<String>,
    /// Evaluation order.
    pub order: i32,
}

/// A flow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Flow {
    /// Its uuid.
    pub pk: String,
    /// Slug.
    pub slug: String,
    /// `authorization`, `invalidation`, …
    pub designation: String,
}

/// A certificate-key pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CertificateKeyPair {
    /// Its uuid.
    pub pk: String,
    /// Name.
    pub name: String,
}

/// An OAuth2 scope mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScopeMapping {
    /// Its uuid.
    pub pk: String,
    /// The managed identifier of built-in mappings.
    pub managed: Option<String>,
    /// Name.
    pub name: String,
    /// The scope it answers.
    pub scope_name: String,
}

/// How many confirmed authenticators of one type a user has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorCount {
    /// Authentik's device type, e.g. `authentik_stages_authenticator_totp.totpdevice`.
    pub kind: String,
    /// How many.
    pub count: usize,
}

/// Changes to an OAuth2 provider (`None` keeps the field).
#[derive(Debug, Clone, Default)]
pub struct OAuth2ProviderUpdate {
    /// New redirect URIs.
    pub redirect_uris: Option<Vec<RedirectUri>>,
    /// New client secret.
    pub client_secret: Option<Secret>,
}

/// An application's display fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationUpdate {
    /// Display name.
    pub name: String,
    /// Where the app lives (`None`: none).
    pub launch_url: Option<String>,
}
