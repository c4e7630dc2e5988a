//! The Viewer: the calling user as the database knows them, resolved once per request.

use serde::Deserialize;
use uuid::Uuid;

use crate::auth::claims::Audience;

/// A role within a tenant.
#[derive(async_graphql::Enum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Owns the tenant (billing, deletion).
    Owner,
    /// Administers the tenant.
    Admin,
    /// Uses the tenant's services.
    Member,
}

/// Whether a membership grants access.
#[derive(async_graphql::Enum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MembershipStatus {
    /// Grants access.
    Active,
    /// Kept but grants nothing.
    Suspended,
}

/// A partner staff member's level.
#[derive(async_graphql::Enum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// Manages the partner and its staff.
    Admin,
    /// Works with the partner's tenants.
    Member,
}

/// One of the viewer's tenant memberships.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The tenant's slug.
    pub tenant_slug: String,
    /// The viewer's role there.
    pub role: MemberRole,
    /// Whether it grants access.
    pub status: MembershipStatus,
}

/// One of the viewer's partner staff positions.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PartnerRole {
    /// The partner.
    pub partner_id: Uuid,
    /// The partner's slug.
    pub partner_slug: String,
    /// The viewer's level there.
    pub access_level: AccessLevel,
}

/// Who is calling, and what the database says they may touch.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// `users.id`.
    pub user_id: Uuid,
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
}

impl Viewer {
    /// Operator powers: an operator-audience token **and** `platform_admin` in the database.
    pub fn is_operator(&self) -> bool {
        self.audience == Audience::Operator && self.platform_admin
    }

    /// The active membership of a tenant, if any.
    pub fn active_membership(&self, tenant_id: Uuid) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|m| m.tenant_id == tenant_id && m.status == MembershipStatus::Active)
    }

    /// Whether the viewer is staff of `partner_id`.
    pub fn is_partner_staff(&self, partner_id: Uuid) -> bool {
        self.partner_roles
            .iter()
            .any(|r| r.partner_id == partner_id)
    }

    /// Whether the viewer may see a tenant: operators, active members, and staff of the
    /// partner the tenant belongs to.
    pub fn can_see_tenant(&self, tenant_id: Uuid, partner_id: Option<Uuid>) -> bool {
        self.is_operator()
            || self.active_membership(tenant_id).is_some()
            || partner_id.is_some_and(|p| self.is_partner_staff(p))
    }

    /// Whether the viewer administers a tenant (active owner or admin), or is an operator.
    pub fn can_admin_tenant(&self, tenant_id: Uuid) -> bool {
        self.is_operator()
            || self
                .active_membership(tenant_id)
                .is_some_and(|m| matches!(m.role, MemberRole::Owner | MemberRole::Admin))
    }

    /// Whether the viewer may see a partner: operators and the partner's staff.
    pub fn can_see_partner(&self, partner_id: Uuid) -> bool {
        self.is_operator() || self.is_partner_staff(partner_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(audience: Audience, admin: bool) -> Viewer {
        Viewer {
            user_id: Uuid::new_v4(),
            subject: "s".into(),
            email: "e".into(),
            name: "n".into(),
            audience,
            platform_admin: admin,
            memberships: vec![],
            partner_roles: vec![],
        }
    }

    #[test]
    fn operator_needs_both_the_audience_and_the_flag() {
        assert!(viewer(Audience::Operator, true).is_operator());
        assert!(!viewer(Audience::Portal, true).is_operator());
        assert!(!viewer(Audience::Operator, false).is_operator());
    }

    #[test]
    fn suspended_memberships_grant_nothing() {
        let tenant = Uuid::new_v4();
        let mut v = viewer(Audience::Portal, false);
        v.memberships.push(Membership {
            tenant_id: tenant,
            tenant_slug: "acme".into(),
            role: MemberRole::Owner,
            status: MembershipStatus::Suspended,
        });
        assert!(!v.can_see_tenant(tenant, None));
        assert!(!v.can_admin_tenant(tenant));
        v.memberships[0].status = MembershipStatus::Active;
        assert!(v.can_see_tenant(tenant, None));
        assert!(v.can_admin_tenant(tenant));
        v.memberships[0].role = MemberRole::Member;
        assert!(!v.can_admin_tenant(tenant), "members do not administer");
    }

    #[test]
    fn partner_staff_see_their_partners_tenants_only() {
        let (partner, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut v = viewer(Audience::Portal, false);
        v.partner_roles.push(PartnerRole {
            partner_id: partner,
            partner_slug: "resell".into(),
            access_level: AccessLevel::Member,
        });
        assert!(v.can_see_tenant(Uuid::new_v4(), Some(partner)));
        assert!(!v.can_see_tenant(Uuid::new_v4(), Some(other)));
        assert!(!v.can_see_tenant(Uuid::new_v4(), None));
        assert!(v.can_see_partner(partner));
        assert!(!v.can_see_partner(other));
    }
}
