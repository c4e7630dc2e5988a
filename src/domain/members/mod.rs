//! Tenant members: memberships joined with their users. A member is visible to whoever may
//! see its tenant; [`visible`] applies that rule in SQL.
//!
//! A member's life across the upstreams (Authentik user, Stalwart mailbox, oCIS user) runs
//! as member operations ([`MemberOperation`]): one durable job per upstream step
//! ([`steps`]), progress events replayed then live (`memberProgress`), like a tenant's
//! provisioning. `createMember` is [`create`]; the one-time password a job needs is sealed
//! ([`sealing`]) and erased when the steps that need it succeeded.

pub mod create;
pub mod lifecycle;
pub mod limits;
pub mod password;
pub mod retry;
pub mod sealing;
pub mod seats;
pub mod steps;
pub mod teardown;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::{Scope, TenantRef};
use crate::db::cached;
use crate::domain::ids::{MemberId, PartnerId, TenantId, UserId};
use crate::domain::page::fetch_limit;

crate::text_enum! {
    /// A role within a tenant.
    #[derive(async_graphql::Enum)]
    pub enum MemberRole {
        /// Owns the tenant (billing, deletion).
        Owner = "owner",
        /// Administers the tenant.
        Admin = "admin",
        /// Uses the tenant's services.
        Member = "member",
    }
}

crate::text_enum! {
    /// Whether a membership grants access.
    #[derive(async_graphql::Enum)]
    pub enum MembershipStatus {
        /// Being created in the upstreams; grants nothing yet.
        Provisioning = "provisioning",
        /// Grants access.
        Active = "active",
        /// Kept but grants nothing.
        Suspended = "suspended",
        /// Its creation failed at a step (see `steps`); `retryMember` finishes it. Grants
        /// nothing.
        Error = "error",
    }
}

crate::text_enum! {
    /// One upstream object of a member.
    #[derive(async_graphql::Enum, PartialOrd, Ord)]
    pub enum MemberStep {
        /// The person's Authentik user (single sign-on): password and the tenant's group.
        Authentik = "authentik",
        /// The member's mailbox in Stalwart, on the tenant's domain.
        Stalwart = "stalwart",
        /// The person's oCIS user (files) and its membership of the tenant's space.
        Ocis = "ocis",
    }
}

crate::text_enum! {
    /// A member operation whose steps run through the job queue.
    #[derive(async_graphql::Enum)]
    pub enum MemberOperation {
        /// `createMember`.
        Create = "create",
        /// `suspendMember`.
        Suspend = "suspend",
        /// `resumeMember`.
        Resume = "resume",
        /// `resetMemberPassword`.
        ResetPassword = "reset_password",
        /// `removeMember`.
        Remove = "remove",
        /// `changeMemberRole`, when the member's role in the tenant's files space changes.
        ChangeRole = "change_role",
    }
}

impl MemberRole {
    /// The member's role in the tenant's oCIS space: managers for owners and admins,
    /// editors for members.
    pub const fn space_role(self) -> crate::upstream::ocis::SpaceRole {
        use crate::upstream::ocis::SpaceRole;
        match self {
            Self::Owner | Self::Admin => SpaceRole::Manager,
            Self::Member => SpaceRole::Editor,
        }
    }
}

/// A membership joined with its user (what a Member shows).
#[derive(diesel::QueryableByName, Debug, Clone)]
pub struct MemberRow {
    /// `memberships.id`.
    #[diesel(sql_type = SqlUuid)]
    pub id: MemberId,
    /// The tenant.
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: TenantId,
    /// The tenant's partner (what the access policy needs).
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub tenant_partner_id: Option<PartnerId>,
    /// The role.
    #[diesel(sql_type = Text)]
    pub role: MemberRole,
    /// Whether it grants access.
    #[diesel(sql_type = Text)]
    pub status: MembershipStatus,
    /// When the membership was created.
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The user.
    #[diesel(sql_type = SqlUuid)]
    pub user_id: UserId,
    /// The user's email.
    #[diesel(sql_type = Text)]
    pub email: String,
    /// The user's name.
    #[diesel(sql_type = Text)]
    pub name: String,
}

impl MemberRow {
    /// Its tenant, as the access policy sees it.
    pub fn tenant(&self) -> TenantRef {
        TenantRef {
            id: self.tenant_id,
            partner_id: self.tenant_partner_id,
        }
    }
}

/// The sort key of a member within its tenant: lower-cased email, then user id.
pub type MemberKey = (String, Uuid);

const COLUMNS: &str = "m.id, m.tenant_id, t.partner_id AS tenant_partner_id, m.role, m.status, \
                       m.created_at, u.id AS user_id, u.email, u.name";

/// The first `limit + 1` members (by email, after `after`) of each tenant, in one statement.
pub async fn pages_by_tenant(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
    after: Option<&MemberKey>,
    limit: usize,
) -> QueryResult<Vec<MemberRow>> {
    cached(
        diesel::sql_query(
        "SELECT id, tenant_id, tenant_partner_id, role, status, created_at, user_id, email, name
           FROM (SELECT m.id, m.tenant_id, t.partner_id AS tenant_partner_id, m.role, m.status,
                        m.created_at, u.id AS user_id, u.email, u.name,
                        row_number() OVER (PARTITION BY m.tenant_id ORDER BY lower(u.email), u.id) AS rn
                   FROM memberships m JOIN users u ON u.id = m.user_id
                   JOIN tenants t ON t.id = m.tenant_id
                  WHERE m.tenant_id = ANY($1)
                    AND ($2::text IS NULL OR (lower(u.email), u.id) > ($2, $3))) ranked
          WHERE rn <= $4
          ORDER BY tenant_id, lower(email), user_id",
    )
    .bind::<Array<SqlUuid>, _>(tenant_ids)
    .bind::<Nullable<Text>, _>(after.map(|k| k.0.as_str()))
    .bind::<Nullable<SqlUuid>, _>(after.map(|k| k.1))
    .bind::<BigInt, _>(fetch_limit(limit)),
    )
    .load(conn)
    .await
}

/// The members with these ids that `scope` may see (the SQL form of "whoever may see its
/// tenant"), in one statement.
pub async fn visible(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    ids: &[MemberId],
) -> QueryResult<Vec<MemberRow>> {
    let (all, member_of, staff_of) = match scope {
        Scope::All => (true, Vec::new(), Vec::new()),
        Scope::Limited(sets) => (false, sets.member_of.clone(), sets.staff_of.clone()),
    };
    diesel::sql_query(format!(
        "SELECT {COLUMNS}
           FROM memberships m JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id
          WHERE m.id = ANY($1)
            AND ($2 OR m.tenant_id = ANY($3) OR t.partner_id = ANY($4))"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Bool, _>(all)
    .bind::<Array<SqlUuid>, _>(member_of)
    .bind::<Array<SqlUuid>, _>(staff_of)
    .load(conn)
    .await
}

/// Members per tenant, for each of `tenant_ids`.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<(TenantId, i64)>> {
    use crate::db::schema::memberships;
    use diesel::{ExpressionMethods, QueryDsl};
    memberships::table
        .filter(memberships::tenant_id.eq_any(tenant_ids))
        .group_by(memberships::tenant_id)
        .select((memberships::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}
