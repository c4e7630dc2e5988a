//! ownCloud Infinite Scale through libregraph (`/graph/v1.0`, `/graph/v1beta1`): a tenant's
//! project space with its quota and usage, users, and space membership.
//!
//! Wire facts (`../shared/upstreams.md` §3, libregraph v1.0.4 OpenAPI): JSON bodies, lists
//! as `{"value": [...]}`, errors in the OData shape
//! `{"error": {"code", "message", "innererror": {…}}}` with codes such as `itemNotFound`
//! (404), `nameAlreadyExists` (409), `invalidRequest` (400), `accessDenied`.

mod http;

use async_trait::async_trait;

pub use http::HttpOcisClient;

use super::Secret;
use super::error::{CallError, unavailable};
use crate::AppError;

/// What [`OcisClient::ensure_project_space`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureSpace {
    /// The space name (ours: unique per tenant, e.g. the tenant's slug).
    pub name: String,
    /// Shown under the name.
    pub description: Option<String>,
    /// `quota.total` in bytes.
    pub quota_bytes: u64,
    /// The space id stored earlier, if any; used first.
    pub existing_id: Option<String>,
}

/// A project space (drive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    /// The drive id (`<storage id>$<space id>`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Quota and usage.
    pub quota: Quota,
}

/// A drive's quota, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Quota {
    /// The limit (0: none).
    #[serde(default)]
    pub total: u64,
    /// Used.
    #[serde(default)]
    pub used: u64,
    /// Left.
    #[serde(default)]
    pub remaining: u64,
    /// `normal`, `nearing`, `critical` or `exceeded`.
    #[serde(default)]
    pub state: String,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// `onPremisesSamAccountName`: the login name.
    pub username: String,
    /// `displayName`.
    pub display_name: String,
    /// `mail`: always sent — older oCIS refuses a user without it (400 "missing required
    /// Attribute: 'mail'"), and a member's address is always known.
    pub mail: String,
    /// `passwordProfile.password`.
    pub password: Secret,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id (uuid).
    pub id: String,
    /// The login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// E-mail address.
    pub mail: Option<String>,
}

/// A role in a space (oCIS unified role ids, `services/graph/pkg/unifiedrole/roles.go`;
/// `Manager` also in the libregraph spec's examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceRole {
    /// Can view (`a8d5fe5e-96e3-418d-825b-534dbdf22b99`).
    Viewer,
    /// Can edit (`58c63c02-1d89-4572-916a-870abc5a1b7d`).
    Editor,
    /// Can manage members (`312c0871-5ef7-4b3a-85b6-0e4074c64049`).
    Manager,
}

impl SpaceRole {
    /// The unified role id.
    pub const fn id(self) -> &'static str {
        match self {
            Self::Viewer => "a8d5fe5e-96e3-418d-825b-534dbdf22b99",
            Self::Editor => "58c63c02-1d89-4572-916a-870abc5a1b7d",
            Self::Manager => "312c0871-5ef7-4b3a-85b6-0e4074c64049",
        }
    }
}

/// How an oCIS call failed.
#[derive(Debug, thiserror::Error)]
pub enum OcisError {
    /// `itemNotFound` (404).
    #[error("{what} not found")]
    NotFound {
        /// `space`, `user`.
        what: &'static str,
    },
    /// `nameAlreadyExists` (409).
    #[error("{what} already exists")]
    AlreadyExists {
        /// `space`, `user`.
        what: &'static str,
    },
    /// 400 (`invalidRequest`, …): the request was refused.
    #[error("refused ({code}): {message}")]
    Invalid {
        /// The OData error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// 400 "missing required Attribute: '<name>'" (older oCIS requires `mail`).
    #[error("oCIS requires the attribute {attribute:?}: {message}")]
    MissingAttribute {
        /// The attribute named (`mail`, `displayName`, …).
        attribute: String,
        /// The server's message.
        message: String,
    },
    /// 422: oCIS cannot parse the id in the path (a drive id is `<storage>$<space>`).
    #[error("{what} id not understood: {message}")]
    InvalidId {
        /// `space`, `user`.
        what: &'static str,
        /// The server's message.
        message: String,
    },
    /// 403 (`accessDenied`, …), or the older releases' 401 with `notAllowed` for a missing
    /// create-space or set-quota permission: our account lacks a permission.
    #[error("permission denied ({code}): {message}")]
    Denied {
        /// The OData error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Transport failure, 5xx, 429 or refused credentials (401).
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<OcisError> for AppError {
    fn from(err: OcisError) -> Self {
        match err {
            OcisError::NotFound { what } => AppError::NotFound { what },
            OcisError::AlreadyExists { what } => {
                AppError::Conflict(format!("the {what} already exists"))
            }
            OcisError::InvalidId { what, .. } => AppError::NotFound { what },
            OcisError::MissingAttribute { ref attribute, .. } => AppError::bad_input(
                attribute.clone(),
                format!("the file service requires {attribute}"),
            ),
            OcisError::Denied { .. } | OcisError::Call(_) => unavailable("ocis", err),
            OcisError::Invalid { .. } => AppError::internal(err),
        }
    }
}

/// The oCIS operations the control plane uses.
#[async_trait]
pub trait OcisClient: Send + Sync {
    /// The cheapest authenticated call (`GET /graph/v1.0/me`), sent once: proves the server
    /// answers and accepts our credentials.
    async fn probe(&self) -> Result<(), OcisError>;

    /// Returns the space (by `existing_id`, else by name among project spaces), setting its
    /// quota when it differs; creates it when missing.
    async fn ensure_project_space(&self, space: &EnsureSpace) -> Result<Space, OcisError>;

    /// A space's quota and usage.
    async fn space_usage(&self, space_id: &str) -> Result<Quota, OcisError>;

    /// Finds a user by login name or creates it.
    async fn ensure_user(&self, user: &NewUser) -> Result<User, OcisError>;

    /// Deletes a user; an absent one counts as deleted.
    async fn delete_user(&self, user_id: &str) -> Result<(), OcisError>;

    /// Gives a user a role in a space: invites them, or changes the role of their existing
    /// grant; a member with that role already is left alone.
    async fn add_user_to_space(
        &self,
        space_id: &str,
        user_id: &str,
        role: SpaceRole,
    ) -> Result<(), OcisError>;

    /// Takes a user out of a space: deletes their grant on the space root
    /// (`DeletePermissionSpaceRoot`); a user without one counts as removed.
    async fn remove_user_from_space(&self, space_id: &str, user_id: &str) -> Result<(), OcisError>;

    /// Enables or disables a user's account (`accountEnabled`, `UpdateUser`).
    async fn set_user_enabled(&self, user_id: &str, enabled: bool) -> Result<(), OcisError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn errors_map_to_app_codes() {
        assert_eq!(
            AppError::from(OcisError::NotFound { what: "space" }).code(),
            ErrorCode::NotFound
        );
        assert_eq!(
            AppError::from(OcisError::AlreadyExists { what: "user" }).code(),
            ErrorCode::Conflict
        );
        let denied = OcisError::Denied {
            code: "accessDenied".into(),
            message: "no".into(),
        };
        assert_eq!(
            AppError::from(denied).code(),
            ErrorCode::UpstreamUnavailable
        );
        let invalid = OcisError::Invalid {
            code: "invalidRequest".into(),
            message: "x".into(),
        };
        assert_eq!(AppError::from(invalid).code(), ErrorCode::Internal);
        let no_mail = OcisError::MissingAttribute {
            attribute: "mail".into(),
            message: "missing required Attribute: 'mail'".into(),
        };
        assert_eq!(AppError::from(no_mail).code(), ErrorCode::BadUserInput);
        let garbled = OcisError::InvalidId {
            what: "space",
            message: "invalid driveID".into(),
        };
        assert_eq!(AppError::from(garbled).code(), ErrorCode::NotFound);
    }
}
