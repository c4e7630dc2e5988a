//! The access policy: the one place that says what a viewer may do with a tenant, a partner,
//! a member, a user or an audit event.
//!
//! Access to a tenant or a partner is a level ([`TenantAccess`], [`PartnerAccess`]); each
//! level includes everything the levels below it allow. Mutations name the level they need
//! (the audited runner checks it before the change runs), fields check it in their
//! resolver, and `node`/`nodes` and the lists read through the SQL form of the same rules,
//! [`Scope`], which a test holds to the Rust rules on random worlds.
//!
//! The rules:
//! - **Operators** (operator audience **and** `platform_admin`) may do everything.
//! - **A tenant** is seen by its active members (member < admin < owner), and by the staff of
//!   the partner it belongs to (staff member < staff admin). Suspended memberships grant
//!   nothing.
//! - **A partner's identity** (id, slug, name, domain, status) is seen by the active members
//!   of its tenants (`Customer`); its commercial details by its staff.
//! - **A member** (membership) is seen by whoever sees its tenant.
//! - **A user** is seen by themselves and by operators.
//! - **An audit event** is seen by operators; by the admins (active owners and admins) of its
//!   tenant; and by the staff of its partner or of the partner that owns its tenant now.
//! - **A tenant's network rule** (its IP allowlist, and its allowed countries when a GeoIP
//!   database is configured) applies to its members: an active membership grants nothing to
//!   a request from outside it (`FORBIDDEN` with the reason where the tenant is named).
//!   Operators are exempt (their access is audited); partner staff reach the tenant through
//!   their partner, not a membership.
//! - **Under impersonation** (an operator acting as a user) the viewer may do what the user
//!   may, except the actions of [`DENIED_WHILE_IMPERSONATING`], which must stay the user's
//!   own; the audited runner refuses them (`FORBIDDEN`, audited as denied).

/// Audit action names (exact, or prefixes ending in `.`) that an impersonator may never
/// perform: credentials, second factors, SSO app secrets, payment methods, removing people.
/// The audited runner checks every change against this list, so a new action is covered by
/// adding its name here.
pub const DENIED_WHILE_IMPERSONATING: &[&str] = &[
    "member.reset_password",
    "member.remove",
    "billing.start_payment_method_setup",
    "billing.set_default_payment_method",
    "user.password.",
    "security.mfa.",
    "security.update_policy",
    "sso_app.",
];

/// Why `action` is refused while impersonating, or `None` when it is allowed.
pub fn impersonation_refusal(action: &str) -> Option<String> {
    let denied = DENIED_WHILE_IMPERSONATING.iter().any(|entry| {
        if entry.ends_with('.') {
            action.starts_with(entry)
        } else {
            action == *entry
        }
    });
    denied.then(|| {
        format!("{action} must be done by the user themselves, not while impersonating them")
    })
}

use crate::auth::viewer::Viewer;
use crate::domain::ids::{PartnerId, TenantId, UserId};
use crate::domain::members::{MemberRole, MembershipStatus};
use crate::domain::partners::AccessLevel;

/// What a viewer may do with one tenant, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantAccess {
    /// Nothing: the tenant answers `NOT_FOUND`, like one that does not exist.
    None,
    /// An active member: sees the tenant and its members.
    Member,
    /// An active admin: also sees billing and renames the tenant.
    Admin,
    /// An active owner.
    Owner,
    /// Staff of the tenant's partner: also changes the plan and domain, suspends, resumes and
    /// re-runs provisioning.
    PartnerStaff,
    /// An admin of the tenant's partner.
    PartnerAdmin,
    /// Platform operator: everything.
    Operator,
}

impl TenantAccess {
    /// Whether the tenant is visible at all.
    pub fn sees(self) -> bool {
        self >= Self::Member
    }
}

/// What a viewer may do with one partner, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartnerAccess {
    /// Nothing: the partner answers `NOT_FOUND`.
    None,
    /// An active member of one of its tenants: sees who the partner is, not its business.
    Customer,
    /// Staff: sees its commercial details and its tenants.
    Staff,
    /// Staff admin.
    Admin,
    /// Platform operator.
    Operator,
}

impl PartnerAccess {
    /// Whether the partner is visible at all.
    pub fn sees(self) -> bool {
        self >= Self::Customer
    }
}

/// The facts about a tenant that access depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantRef {
    /// The tenant.
    pub id: TenantId,
    /// Its partner, if any.
    pub partner_id: Option<PartnerId>,
}

/// The facts about an audit event that access depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRef {
    /// The tenant it concerns.
    pub tenant_id: Option<TenantId>,
    /// The partner it concerns.
    pub partner_id: Option<PartnerId>,
    /// The partner that owns its tenant today.
    pub tenant_partner_id: Option<PartnerId>,
}

impl Viewer {
    /// Operator powers: an operator-audience token **and** `platform_admin` in the database.
    pub fn is_operator(&self) -> bool {
        self.audience == crate::auth::Audience::Operator && self.platform_admin
    }

    /// The viewer's access to a tenant.
    pub fn tenant_access(&self, tenant: TenantRef) -> TenantAccess {
        if self.is_operator() {
            return TenantAccess::Operator;
        }
        let staff = tenant.partner_id.map(|p| self.partner_access(p)).map_or(
            TenantAccess::None,
            |a| match a {
                PartnerAccess::Admin | PartnerAccess::Operator => TenantAccess::PartnerAdmin,
                PartnerAccess::Staff => TenantAccess::PartnerStaff,
                PartnerAccess::Customer | PartnerAccess::None => TenantAccess::None,
            },
        );
        let member = self
            .memberships
            .iter()
            .filter(|m| m.tenant_id == tenant.id && self.grants(m))
            .map(|m| match m.role {
                MemberRole::Owner => TenantAccess::Owner,
                MemberRole::Admin => TenantAccess::Admin,
                MemberRole::Member => TenantAccess::Member,
            })
            .max()
            .unwrap_or(TenantAccess::None);
        staff.max(member)
    }

    /// Whether a membership grants access to this request: active, and the tenant's network
    /// rule lets the request's client address in.
    fn grants(&self, m: &crate::auth::viewer::Membership) -> bool {
        m.status == MembershipStatus::Active
            && (m.network.is_empty() || m.network.refusal(&self.network).is_none())
    }

    /// Why the viewer's membership of `tenant` grants nothing to this request (the tenant's
    /// IP allowlist or country rule refuses the client), or `None`. Operators are exempt.
    pub fn network_refusal(&self, tenant: TenantId) -> Option<String> {
        if self.is_operator() {
            return None;
        }
        self.memberships
            .iter()
            .filter(|m| m.tenant_id == tenant && m.status == MembershipStatus::Active)
            .find_map(|m| m.network.refusal(&self.network))
    }

    /// The viewer's access to a partner.
    pub fn partner_access(&self, partner: PartnerId) -> PartnerAccess {
        if self.is_operator() {
            return PartnerAccess::Operator;
        }
        let staff = self
            .partner_roles
            .iter()
            .filter(|r| r.partner_id == partner)
            .map(|r| match r.access_level {
                AccessLevel::Admin => PartnerAccess::Admin,
                AccessLevel::Member => PartnerAccess::Staff,
            })
            .max();
        if let Some(level) = staff {
            return level;
        }
        let customer = self
            .memberships
            .iter()
            .any(|m| self.grants(m) && m.tenant_partner_id == Some(partner));
        if customer {
            PartnerAccess::Customer
        } else {
            PartnerAccess::None
        }
    }

    /// Whether the viewer may see a user: themselves, and operators.
    pub fn sees_user(&self, user: UserId) -> bool {
        self.is_operator() || user == self.user_id
    }

    /// Whether the viewer may see an audit event.
    pub fn sees_audit_event(&self, event: AuditRef) -> bool {
        if self.is_operator() {
            return true;
        }
        let admin = event.tenant_id.is_some_and(|t| {
            self.memberships.iter().any(|m| {
                m.tenant_id == t
                    && self.grants(m)
                    && matches!(m.role, MemberRole::Owner | MemberRole::Admin)
            })
        });
        let staff = [event.partner_id, event.tenant_partner_id]
            .into_iter()
            .flatten()
            .any(|p| self.partner_access(p) >= PartnerAccess::Staff);
        admin || staff
    }

    /// The same rules as sets of ids, for SQL filters.
    pub fn scope(&self) -> Scope {
        if self.is_operator() {
            return Scope::All;
        }
        let active = self.memberships.iter().filter(|m| self.grants(m));
        let mut scope = ScopeSets {
            member_of: active.clone().map(|m| m.tenant_id).collect(),
            admin_of: active
                .clone()
                .filter(|m| matches!(m.role, MemberRole::Owner | MemberRole::Admin))
                .map(|m| m.tenant_id)
                .collect(),
            staff_of: self.partner_roles.iter().map(|r| r.partner_id).collect(),
            customer_of: active.filter_map(|m| m.tenant_partner_id).collect(),
        };
        for list in [&mut scope.member_of, &mut scope.admin_of] {
            list.sort();
            list.dedup();
        }
        for list in [&mut scope.staff_of, &mut scope.customer_of] {
            list.sort();
            list.dedup();
        }
        Scope::Limited(scope)
    }
}

/// The policy as sets of ids, for the SQL visibility filters (`domain::*::scoped`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything (operators).
    All,
    /// What the sets allow.
    Limited(ScopeSets),
}

/// The ids a non-operator's access comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSets {
    /// Tenants with an active membership: visible.
    pub member_of: Vec<TenantId>,
    /// Tenants with an active owner or admin membership: their audit events are visible.
    pub admin_of: Vec<TenantId>,
    /// Partners the viewer is staff of: visible with their tenants and audit events.
    pub staff_of: Vec<PartnerId>,
    /// Partners of the tenants in `member_of`: their identity is visible.
    pub customer_of: Vec<PartnerId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Audience;
    use crate::auth::viewer::{Membership, PartnerRole};
    use uuid::Uuid;

    fn viewer(audience: Audience, admin: bool) -> Viewer {
        Viewer {
            user_id: UserId(Uuid::new_v4()),
            subject: "s".into(),
            email: "e".into(),
            name: "n".into(),
            audience,
            platform_admin: admin,
            memberships: vec![],
            partner_roles: vec![],
            impersonation: None,
            network: Default::default(),
        }
    }

    fn tenant(partner: Option<PartnerId>) -> TenantRef {
        TenantRef {
            id: TenantId(Uuid::new_v4()),
            partner_id: partner,
        }
    }

    #[test]
    fn the_deny_list_matches_names_and_prefixes_only() {
        for action in [
            "member.reset_password",
            "member.remove",
            "billing.start_payment_method_setup",
            "billing.set_default_payment_method",
            "security.mfa.reset",
            "sso_app.rotate_secret",
            "sso_app.create",
            "security.update_policy",
            "user.password.change",
        ] {
            let why = impersonation_refusal(action).expect(action);
            assert!(
                why.contains(action) && why.contains("impersonating"),
                "{why}"
            );
        }
        for action in [
            "member.create",
            "member.removed_note",
            "tenant.update",
            "billing.update_details",
            "security.mfax",
            "sso_apps.list",
            "impersonation.end",
        ] {
            assert_eq!(impersonation_refusal(action), None, "{action}");
        }
    }

    #[test]
    fn operator_needs_both_the_audience_and_the_flag() {
        let t = tenant(None);
        assert_eq!(
            viewer(Audience::Operator, true).tenant_access(t),
            TenantAccess::Operator
        );
        assert_eq!(
            viewer(Audience::Portal, true).tenant_access(t),
            TenantAccess::None
        );
        assert_eq!(
            viewer(Audience::Operator, false).tenant_access(t),
            TenantAccess::None
        );
    }

    #[test]
    fn suspended_memberships_grant_nothing_and_roles_rank() {
        let t = tenant(None);
        let mut v = viewer(Audience::Portal, false);
        v.memberships.push(Membership {
            tenant_id: t.id,
            tenant_slug: "acme".into(),
            tenant_partner_id: None,
            role: MemberRole::Owner,
            status: MembershipStatus::Suspended,
            network: Default::default(),
        });
        assert_eq!(v.tenant_access(t), TenantAccess::None);
        v.memberships[0].status = MembershipStatus::Active;
        assert_eq!(v.tenant_access(t), TenantAccess::Owner);
        v.memberships[0].role = MemberRole::Member;
        assert_eq!(v.tenant_access(t), TenantAccess::Member);
        assert!(v.tenant_access(t) < TenantAccess::Admin);
    }

    #[test]
    fn partner_staff_reach_their_partners_tenants_and_customers_see_the_partner() {
        let (partner, other) = (PartnerId(Uuid::new_v4()), PartnerId(Uuid::new_v4()));
        let mut staff = viewer(Audience::Portal, false);
        staff.partner_roles.push(PartnerRole {
            partner_id: partner,
            partner_slug: "resell".into(),
            access_level: AccessLevel::Member,
        });
        assert_eq!(
            staff.tenant_access(tenant(Some(partner))),
            TenantAccess::PartnerStaff
        );
        assert_eq!(staff.tenant_access(tenant(Some(other))), TenantAccess::None);
        assert_eq!(staff.partner_access(partner), PartnerAccess::Staff);
        assert_eq!(staff.partner_access(other), PartnerAccess::None);

        let t = tenant(Some(partner));
        let mut member = viewer(Audience::Portal, false);
        member.memberships.push(Membership {
            tenant_id: t.id,
            tenant_slug: "acme".into(),
            tenant_partner_id: Some(partner),
            role: MemberRole::Member,
            status: MembershipStatus::Active,
            network: Default::default(),
        });
        assert_eq!(member.partner_access(partner), PartnerAccess::Customer);
        assert!(member.partner_access(partner) < PartnerAccess::Staff);
        member.memberships[0].status = MembershipStatus::Suspended;
        assert_eq!(member.partner_access(partner), PartnerAccess::None);
    }
}
