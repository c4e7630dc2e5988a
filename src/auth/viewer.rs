//! The Viewer: the calling user as the database knows them, resolved once per request. What
//! the Viewer may do is decided by the access policy ([`crate::auth::policy`]).

use serde::Deserialize;

use crate::auth::claims::Audience;
use crate::domain::ids::{PartnerId, TenantId, UserId};
use crate::domain::members::{MemberRole, MembershipStatus};
use crate::domain::partners::AccessLevel;
use crate::domain::security::network::{ClientNetwork, NetworkRule};

/// One of the viewer's tenant memberships.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The tenant's slug.
    pub tenant_slug: String,
    /// The tenant's partner, if any (its identity is visible to the tenant's members).
    pub tenant_partner_id: Option<PartnerId>,
    /// The viewer's role there.
    pub role: MemberRole,
    /// Whether it grants access.
    pub status: MembershipStatus,
    /// The tenant's network rule (its IP allowlist and allowed countries), loaded with the
    /// membership: an active membership grants nothing to a request the rule refuses.
    #[serde(default)]
    pub network: NetworkRule,
}

/// One of the viewer's partner staff positions.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PartnerRole {
    /// The partner.
    pub partner_id: PartnerId,
    /// The partner's slug.
    pub partner_slug: String,
    /// The viewer's level there.
    pub access_level: AccessLevel,
}

/// Who is calling, and what the database says they may touch.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// `users.id`.
    pub user_id: UserId,
    /// The identity provider's subject.
    pub subject: String,
    /// Email (kept in sync with the token).
    pub email: String,
    /// Display name (kept in sync with the token).
    pub name: String,
    /// Which frontend the token was issued for.
    pub audience: Audience,
    /// `users.platform_admin`.
    pub platform_admin: bool,
    /// Tenant memberships, any status.
    pub memberships: Vec<Membership>,
    /// Partner staff positions.
    pub partner_roles: Vec<PartnerRole>,
    /// Set when an operator acts as this user (an impersonation token whose session is open).
    pub impersonation: Option<Impersonation>,
    /// Where the request comes from (unknown until the transport sets it: then a tenant with
    /// an IP allowlist refuses its members).
    pub network: ClientNetwork,
}

/// An open impersonation session the request runs under: the Viewer is the user, and this
/// says who really acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    /// `impersonation_sessions.id`.
    pub session_id: uuid::Uuid,
    /// The operator.
    pub operator_id: UserId,
    /// The operator's email.
    pub operator_email: String,
    /// The operator's name.
    pub operator_name: String,
    /// Why (as the operator gave it).
    pub reason: String,
    /// When the session started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it ends at the latest.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}
