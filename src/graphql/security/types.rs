//! The `SecurityPolicy` type and its enforcement report.

use async_graphql::{Enum, Object, SimpleObject};

use crate::domain::security::{MfaMode, Policy};
use crate::graphql::scalars::Long;

/// A field of the security policy.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum SecurityPolicyField {
    /// `mfaMode`.
    MfaMode,
    /// `sessionIdleMinutes`.
    SessionIdleMinutes,
    /// `sessionAbsoluteHours`.
    SessionAbsoluteHours,
    /// `allowedCountries`.
    AllowedCountries,
    /// `ipAllowlist`.
    IpAllowlist,
}

/// Whether a policy field is enforced.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum EnforcementStatus {
    /// Enforced where stated in `reason`.
    Enforced,
    /// Stored, not enforced yet; `reason` says why.
    NotEnforced,
}

/// Whether one field of the policy is enforced, and why (or why not).
#[derive(SimpleObject, Clone, Debug)]
pub struct PolicyEnforcement {
    /// The field.
    pub field: SecurityPolicyField,
    /// Enforced or not.
    pub status: EnforcementStatus,
    /// Where it is enforced, or why it is not.
    pub reason: String,
}

/// A tenant's security policy, and where each field is enforced.
pub struct SecurityPolicy {
    /// The policy.
    pub policy: Policy,
    /// Whether a GeoIP database is configured (countries enforced).
    pub geoip: bool,
}

const IN_AUTHENTIK: &str = "sign-in, second factors and sessions live in Authentik's flows, which all tenants share; per-tenant enforcement there is not built yet";

/// The enforcement report of every field.
pub fn enforcement(geoip: bool) -> Vec<PolicyEnforcement> {
    use EnforcementStatus::{Enforced, NotEnforced};
    let row = |field, status, reason: &str| PolicyEnforcement {
        field,
        status,
        reason: reason.to_owned(),
    };
    vec![
        row(SecurityPolicyField::MfaMode, NotEnforced, IN_AUTHENTIK),
        row(
            SecurityPolicyField::SessionIdleMinutes,
            NotEnforced,
            IN_AUTHENTIK,
        ),
        row(
            SecurityPolicyField::SessionAbsoluteHours,
            NotEnforced,
            IN_AUTHENTIK,
        ),
        if geoip {
            row(
                SecurityPolicyField::AllowedCountries,
                Enforced,
                "every request of the tenant's members to this API is refused unless the GeoIP database places its client address in an allowed country; mail and files are reached without this API",
            )
        } else {
            row(
                SecurityPolicyField::AllowedCountries,
                NotEnforced,
                "no GeoIP database is configured on this server (GEOIP_DATABASE)",
            )
        },
        row(
            SecurityPolicyField::IpAllowlist,
            Enforced,
            "every request of the tenant's members to this API is refused unless its client address (X-Forwarded-For only from TRUSTED_PROXIES) is in a listed block; operators are exempt and audited; mail and files are reached without this API",
        ),
    ]
}

/// A tenant's security policy, and where each field is enforced.
#[Object]
impl SecurityPolicy {
    /// Who must use a second factor.
    async fn mfa_mode(&self) -> MfaMode {
        self.policy.mfa_mode
    }

    /// Minutes of inactivity after which a session ends (5–1440).
    async fn session_idle_minutes(&self) -> i32 {
        self.policy.session_idle_minutes
    }

    /// Hours after which a session ends regardless of activity (1–720).
    async fn session_absolute_hours(&self) -> i32 {
        self.policy.session_absolute_hours
    }

    /// ISO 3166-1 alpha-2 codes requests may come from, sorted; empty: anywhere.
    async fn allowed_countries(&self) -> &[String] {
        &self.policy.allowed_countries
    }

    /// CIDR blocks (IPv4 and IPv6, normalised) requests may come from; empty: anywhere.
    async fn ip_allowlist(&self) -> &[String] {
        &self.policy.ip_allowlist
    }

    /// For each field, whether this deployment enforces it, and why (or why not).
    async fn enforcement(&self) -> Vec<PolicyEnforcement> {
        enforcement(self.geoip)
    }
}

/// How many confirmed authenticators of one type a member has.
#[derive(SimpleObject, Clone, Debug)]
pub struct AuthenticatorTypeCount {
    /// Authentik's device type, e.g. `authentik_stages_authenticator_totp.totpdevice`.
    #[graphql(name = "type")]
    pub kind: String,
    /// How many.
    pub count: i32,
}

/// One member's second factors.
#[derive(SimpleObject)]
pub struct MemberMfa {
    /// The member.
    pub member: crate::graphql::members::types::Member,
    /// Whether they have at least one confirmed authenticator.
    pub enrolled: bool,
    /// Whether the tenant's `mfaMode` requires them to have one.
    pub required: bool,
    /// Not enrolled while the policy requires it.
    pub flagged: bool,
    /// Their authenticators by type; empty for a member without an identity-provider account
    /// yet.
    pub authenticators: Vec<AuthenticatorTypeCount>,
}

/// MFA enrollment of a tenant's active members, from Authentik.
#[derive(SimpleObject)]
pub struct MfaStatus {
    /// Members with at least one confirmed authenticator.
    pub enrolled: i32,
    /// Active members.
    pub total: i32,
    /// Members the policy requires a second factor of who have none.
    pub flagged: i32,
    /// Every active member, by email.
    pub members: Vec<MemberMfa>,
}

/// The tenant's file storage (its oCIS space), in bytes.
#[derive(SimpleObject)]
pub struct Storage {
    /// The quota (0: none).
    pub quota_bytes: Long,
    /// Used.
    pub used_bytes: Long,
    /// Left.
    pub remaining_bytes: Long,
    /// `normal`, `nearing`, `critical` or `exceeded`, as oCIS reports it.
    pub state: String,
}
