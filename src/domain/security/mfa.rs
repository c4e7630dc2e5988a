//! MFA enrollment: who of a tenant's active members has a second factor in Authentik, and
//! who must have one under the tenant's policy. The database side is batched over tenants;
//! the Authentik side goes through [`super::upstream_reads::UpstreamReads`] (bounded
//! concurrency, short cache).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::MfaMode;
use crate::db::schema::security_policies;
use crate::domain::ids::TenantId;
use crate::domain::members::{MemberRole, MemberRow, MembershipStatus};

/// The MFA mode of each of `tenants` in one statement (the default, `optional`, for a tenant
/// without a policy row). What a tenant-health rule "MFA coverage against the policy" needs
/// from the database.
pub async fn required_mfa_modes(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> QueryResult<HashMap<TenantId, MfaMode>> {
    let rows: Vec<(TenantId, MfaMode)> = security_policies::table
        .filter(security_policies::tenant_id.eq_any(tenants))
        .select((security_policies::tenant_id, security_policies::mfa_mode))
        .load(conn)
        .await?;
    let mut modes: HashMap<TenantId, MfaMode> = rows.into_iter().collect();
    for tenant in tenants {
        modes
            .entry(*tenant)
            .or_insert(super::Policy::default().mfa_mode);
    }
    Ok(modes)
}

/// An active member and their Authentik user pk (unknown until their account exists).
#[derive(QueryableByName, Debug, Clone)]
pub struct MfaMemberRow {
    /// The member.
    #[diesel(embed)]
    pub member: MemberRow,
    /// `users.authentik_user_pk`.
    #[diesel(sql_type = Nullable<diesel::sql_types::Int8>)]
    pub authentik_user_pk: Option<i64>,
}

/// The active members of `tenants`, by tenant then email, in one statement.
pub async fn members_of(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> QueryResult<Vec<MfaMemberRow>> {
    diesel::sql_query(
        "SELECT m.id, m.tenant_id, t.partner_id AS tenant_partner_id, m.role, m.status,
                m.created_at, m.user_id, u.email, u.name, u.authentik_user_pk
           FROM memberships m JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id
          WHERE m.tenant_id = ANY($1) AND m.status = $2
          ORDER BY m.tenant_id, lower(u.email), m.id",
    )
    .bind::<Array<SqlUuid>, _>(tenants.iter().map(|t| t.uuid()).collect::<Vec<_>>())
    .bind::<Text, _>(MembershipStatus::Active)
    .load(conn)
    .await
}

/// Whether `member` must have a second factor under `mode`.
pub fn must_enrol(mode: MfaMode, member: &MemberRow) -> bool {
    role_must_enrol(mode, member.role)
}

/// Whether a member with `role` must have a second factor under `mode` (owners and admins
/// count as admins). The MFA health rule's statement is spelled from this too.
pub fn role_must_enrol(mode: MfaMode, role: MemberRole) -> bool {
    mode.requires(matches!(role, MemberRole::Owner | MemberRole::Admin))
}
