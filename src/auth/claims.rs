//! The claims this server reads from a verified token.

use serde::Deserialize;

/// Which frontend a token was issued for.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The customer portal (tenant members, tenant admins, partner staff).
    Portal,
    /// The operator console (platform staff). Operator powers also need `platformAdmin`.
    Operator,
}

/// `aud` may be one string or an array.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl OneOrMany {
    /// Whether `value` is among the audiences.
    pub fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(one) => one == value,
            Self::Many(many) => many.iter().any(|a| a == value),
        }
    }
}

/// Claims of an Authentik access or ID token (scope-mapping claims are optional).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// Subject: the user's stable id at the identity provider.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience(s).
    pub aud: OneOrMany,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Email address, when the provider includes it.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name, when included.
    #[serde(default)]
    pub name: Option<String>,
    /// Login name, when included.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Group names, when included (read only by `me`, as the bootstrap path).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// RFC 8693 `act`: who acts for `sub`. Only impersonation tokens signed by this server
    /// may carry it; any other token with `act` is refused.
    #[serde(default)]
    pub act: Option<ActorClaim>,
    /// The impersonation session (impersonation tokens only).
    #[serde(default)]
    pub sid: Option<String>,
}

/// The `act` claim of a token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ActorClaim {
    /// The acting party's subject.
    pub sub: String,
}

/// A token whose signature, issuer, audience and lifetime were all checked.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Its claims.
    pub claims: Claims,
    /// Which frontend it was issued for.
    pub audience: Audience,
    /// For an impersonation token (signed by this server's impersonation key): its session.
    /// The token is only good while that session is open ([`crate::domain::impersonation`]).
    pub impersonation: Option<uuid::Uuid>,
}
