//! Authentik 2025.10 (`/api/v3`, Bearer API token): tenant groups, users, sessions,
//! authenticators, and the OAuth2 provider + application + policy binding of a tenant's SSO
//! app, plus the flow / key / scope lookups those need.
//!
//! Wire facts (`../shared/upstreams.md` §1, from the 2025.10.4 OpenAPI schema): JSON bodies,
//! paths end with `/`, lists are `{"pagination": {"next": <page or 0>, …}, "results": […]}`,
//! a bad token is **403** `{"detail": …}`, validation errors are 400 `{"<field>": [msg]}`.

mod directory;
mod http;
mod sso;
mod types;

use async_trait::async_trait;

pub use http::HttpAuthentikClient;
pub use types::*;

use super::Secret;
use super::error::{CallError, unavailable};
use crate::AppError;

/// How an Authentik call failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthentikError {
    /// 404, or a lookup that found nothing.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (`user`, `flow`, …).
        what: &'static str,
    },
    /// 400: the request was refused field by field (`non_field_errors` for the rest).
    #[error("refused by Authentik ({code:?}): {fields:?}")]
    Invalid {
        /// Field path → messages; nested serializer errors keep their path
        /// (`redirect_uris[1].url`).
        fields: std::collections::BTreeMap<String, Vec<String>>,
        /// `ValidationError.code`, when sent.
        code: Option<String>,
    },
    /// 403 that is not about the token: our account lacks a permission.
    #[error("permission denied by Authentik: {detail}")]
    Denied {
        /// `GenericError.detail`.
        detail: String,
    },
    /// An object with our name exists but is not ours (e.g. a group of another tenant).
    #[error("{0}")]
    Conflict(String),
    /// Transport failure, 5xx, 429, or the token refused (403).
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<AuthentikError> for AppError {
    fn from(err: AuthentikError) -> Self {
        match err {
            AuthentikError::NotFound { what } => AppError::NotFound { what },
            AuthentikError::Conflict(message) => AppError::Conflict(message),
            AuthentikError::Call(_) | AuthentikError::Denied { .. } => {
                unavailable("authentik", err)
            }
            AuthentikError::Invalid { .. } => AppError::internal(err),
        }
    }
}

/// The Authentik operations the control plane uses. Every `ensure_*` looks the object up
/// first and creates it only when missing, so a repeated call creates nothing new; every
/// `delete_*` treats "already gone" as success.
#[async_trait]
pub trait AuthentikClient: Send + Sync {
    /// The cheapest authenticated call (`GET /api/v3/core/users/me/`), sent once: proves the
    /// server answers and accepts our token.
    async fn probe(&self) -> Result<(), AuthentikError>;

    /// Finds the tenant's group by name or creates it, with `attributes` recording the
    /// tenant's slug and id. A same-named group of another tenant is a conflict.
    async fn ensure_tenant_group(&self, group: &TenantGroup) -> Result<Group, AuthentikError>;

    /// Finds a partner's staff group by name or creates it, with `attributes` recording the
    /// partner's slug and id. A same-named group of anything else is a conflict.
    async fn ensure_partner_group(&self, group: &PartnerGroup) -> Result<Group, AuthentikError>;

    /// A user by pk.
    async fn user(&self, user_pk: i64) -> Result<User, AuthentikError>;

    /// Deletes a group by its uuid.
    async fn delete_group(&self, group_pk: &str) -> Result<(), AuthentikError>;

    /// Finds a user by username or creates it.
    async fn ensure_user(&self, user: &NewUser) -> Result<User, AuthentikError>;

    /// Changes a user's name and/or e-mail address.
    async fn update_user(&self, user_pk: i64, update: &UserUpdate) -> Result<User, AuthentikError>;

    /// Activates or deactivates a user (deactivated users cannot sign in).
    async fn set_user_active(&self, user_pk: i64, active: bool) -> Result<User, AuthentikError>;

    /// Deletes a user.
    async fn delete_user(&self, user_pk: i64) -> Result<(), AuthentikError>;

    /// Adds a user to a group (adding a member again changes nothing).
    async fn add_user_to_group(&self, group_pk: &str, user_pk: i64) -> Result<(), AuthentikError>;

    /// Removes a user from a group.
    async fn remove_user_from_group(
        &self,
        group_pk: &str,
        user_pk: i64,
    ) -> Result<(), AuthentikError>;

    /// Sets a user's password.
    async fn set_password(&self, user_pk: i64, password: &Secret) -> Result<(), AuthentikError>;

    /// The user's sessions: filtered by username on the server, then by pk here, so another
    /// user's session can never be returned.
    async fn list_sessions(&self, user: &UserRef) -> Result<Vec<Session>, AuthentikError>;

    /// Ends every session of the user (only theirs, see [`Self::list_sessions`]); returns
    /// how many were ended.
    async fn terminate_sessions(&self, user: &UserRef) -> Result<usize, AuthentikError>;

    /// How many authenticators (MFA devices) the user has.
    async fn count_authenticators(&self, user_pk: i64) -> Result<usize, AuthentikError>;

    /// The user's confirmed authenticators, counted by type, sorted by type.
    async fn authenticators_by_type(
        &self,
        user_pk: i64,
    ) -> Result<Vec<AuthenticatorCount>, AuthentikError>;

    /// Finds an OAuth2 provider by name or creates it.
    async fn ensure_oauth2_provider(
        &self,
        spec: &OAuth2ProviderSpec,
    ) -> Result<OAuth2Provider, AuthentikError>;

    /// Changes an OAuth2 provider's redirect URIs and/or client secret.
    async fn update_oauth2_provider(
        &self,
        provider_pk: i64,
        update: &OAuth2ProviderUpdate,
    ) -> Result<OAuth2Provider, AuthentikError>;

    /// Changes an application's name and launch URL.
    async fn update_application(
        &self,
        slug: &str,
        update: &ApplicationUpdate,
    ) -> Result<Application, AuthentikError>;

    /// Deletes an OAuth2 provider.
    async fn delete_oauth2_provider(&self, provider_pk: i64) -> Result<(), AuthentikError>;

    /// Finds an application by slug or creates it; one bound to another provider is a
    /// conflict.
    async fn ensure_application(
        &self,
        spec: &ApplicationSpec,
    ) -> Result<Application, AuthentikError>;

    /// Deletes an application by slug.
    async fn delete_application(&self, slug: &str) -> Result<(), AuthentikError>;

    /// Finds the binding of `group_pk` to the application or creates it (bindings are
    /// listed by target and matched by group here: the API has no group filter).
    async fn ensure_group_binding(
        &self,
        application_pk: &str,
        group_pk: &str,
        order: i32,
    ) -> Result<PolicyBinding, AuthentikError>;

    /// Deletes a policy binding by its uuid.
    async fn delete_policy_binding(&self, binding_pk: &str) -> Result<(), AuthentikError>;

    /// A flow by slug (e.g. `default-provider-invalidation-flow`).
    async fn flow_by_slug(&self, slug: &str) -> Result<Flow, AuthentikError>;

    /// A certificate-key pair with a private key, by name.
    async fn signing_key_by_name(&self, name: &str) -> Result<CertificateKeyPair, AuthentikError>;

    /// Scope mappings by their `managed` identifiers, in the order asked; any missing one
    /// is `NotFound`.
    async fn scope_mappings(&self, managed: &[&str]) -> Result<Vec<ScopeMapping>, AuthentikError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn errors_map_to_app_codes() {
        assert_eq!(
            AppError::from(AuthentikError::NotFound { what: "user" }).code(),
            ErrorCode::NotFound
        );
        assert_eq!(
            AppError::from(AuthentikError::Conflict("taken".into())).code(),
            ErrorCode::Conflict
        );
        let refused = AuthentikError::Call(CallError::Unauthorized { status: 403 });
        assert!(matches!(
            AppError::from(refused),
            AppError::UpstreamUnavailable {
                service: "authentik",
                ..
            }
        ));
        let invalid = AuthentikError::Invalid {
            fields: [(
                "name".to_owned(),
                vec!["This field is required.".to_owned()],
            )]
            .into(),
            code: None,
        };
        assert_eq!(AppError::from(invalid).code(), ErrorCode::Internal);
    }
}
