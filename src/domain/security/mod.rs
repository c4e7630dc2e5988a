//! Security settings of a tenant: its policy (`security_policies`, defaults when it has no
//! row), where this server enforces it ([`network`]), its changes ([`changes`]), the MFA
//! overview ([`mfa`]), its storage ([`storage`]) and its SSO apps ([`sso_apps`]).

pub mod changes;
pub mod config;
pub mod countries;
pub mod geoip;
pub mod mfa;
pub mod mfa_snapshot;
pub mod network;
pub mod rules;
pub mod sso_apps;
pub mod upstream_reads;

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::db::schema::security_policies;
use crate::domain::ids::TenantId;

crate::text_enum! {
    /// Who must use a second factor when signing in.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "MfaMode")]
    pub enum MfaMode {
        /// Nobody is asked for one.
        Off = "off",
        /// Members may enrol one.
        Optional = "optional",
        /// Every member must.
        Required = "required",
        /// Owners and admins must; members may.
        RequiredForAdmins = "required_for_admins",
    }
}

impl MfaMode {
    /// Whether a member with `admin` rights (owner or admin) must have a second factor.
    pub fn requires(self, admin: bool) -> bool {
        match self {
            Self::Off | Self::Optional => false,
            Self::Required => true,
            Self::RequiredForAdmins => admin,
        }
    }
}

/// A tenant's security policy (the defaults when it has no row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Who must use a second factor.
    pub mfa_mode: MfaMode,
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: i32,
    /// Hours after which a session ends regardless.
    pub session_absolute_hours: i32,
    /// ISO 3166-1 alpha-2 codes requests may come from; empty: anywhere.
    pub allowed_countries: Vec<String>,
    /// Normalised CIDR blocks requests may come from; empty: anywhere.
    pub ip_allowlist: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mfa_mode: MfaMode::Optional,
            session_idle_minutes: 60,
            session_absolute_hours: 24,
            allowed_countries: Vec::new(),
            ip_allowlist: Vec::new(),
        }
    }
}

impl Policy {
    /// The policy as an audit value (`before` / `after`).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "mfaMode": self.mfa_mode.as_str(),
            "sessionIdleMinutes": self.session_idle_minutes,
            "sessionAbsoluteHours": self.session_absolute_hours,
            "allowedCountries": self.allowed_countries,
            "ipAllowlist": self.ip_allowlist,
        })
    }

    /// The network part, for [`network::refusal`].
    pub fn network(&self) -> network::NetworkRule {
        network::NetworkRule {
            ip_allowlist: self.ip_allowlist.clone(),
            allowed_countries: self.allowed_countries.clone(),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = security_policies)]
struct PolicyRow {
    tenant_id: TenantId,
    mfa_mode: MfaMode,
    session_idle_minutes: i32,
    session_absolute_hours: i32,
    allowed_countries: Vec<Option<String>>,
    ip_allowlist: Vec<Option<String>>,
}

impl From<PolicyRow> for Policy {
    fn from(row: PolicyRow) -> Self {
        Self {
            mfa_mode: row.mfa_mode,
            session_idle_minutes: row.session_idle_minutes,
            session_absolute_hours: row.session_absolute_hours,
            allowed_countries: row.allowed_countries.into_iter().flatten().collect(),
            ip_allowlist: row.ip_allowlist.into_iter().flatten().collect(),
        }
    }
}

/// The policies of `ids` in one statement; a tenant without a row is absent (its policy is
/// the default).
pub async fn by_tenants(
    conn: &mut AsyncPgConnection,
    ids: &[TenantId],
) -> QueryResult<HashMap<TenantId, Policy>> {
    let rows: Vec<PolicyRow> = security_policies::table
        .filter(security_policies::tenant_id.eq_any(ids))
        .select(PolicyRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.into())).collect())
}

/// One tenant's policy (the defaults without a row).
pub async fn of_tenant(conn: &mut AsyncPgConnection, tenant: TenantId) -> QueryResult<Policy> {
    Ok(by_tenants(conn, &[tenant])
        .await?
        .remove(&tenant)
        .unwrap_or_default())
}

/// Writes `policy` as the tenant's (insert or replace).
pub async fn save(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    policy: &Policy,
) -> QueryResult<()> {
    let values = (
        security_policies::tenant_id.eq(tenant),
        security_policies::mfa_mode.eq(policy.mfa_mode),
        security_policies::session_idle_minutes.eq(policy.session_idle_minutes),
        security_policies::session_absolute_hours.eq(policy.session_absolute_hours),
        security_policies::allowed_countries.eq(&policy.allowed_countries),
        security_policies::ip_allowlist.eq(&policy.ip_allowlist),
    );
    diesel::insert_into(security_policies::table)
        .values(values)
        .on_conflict(security_policies::tenant_id)
        .do_update()
        .set((
            security_policies::mfa_mode.eq(policy.mfa_mode),
            security_policies::session_idle_minutes.eq(policy.session_idle_minutes),
            security_policies::session_absolute_hours.eq(policy.session_absolute_hours),
            security_policies::allowed_countries.eq(&policy.allowed_countries),
            security_policies::ip_allowlist.eq(&policy.ip_allowlist),
            security_policies::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A tenant's upstream handles the security area uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handles {
    /// `tenants.authentik_group_id`.
    pub authentik_group_id: Option<String>,
    /// `tenants.ocis_space_id`.
    pub ocis_space_id: Option<String>,
}

/// The handles of `ids`, in one statement.
pub async fn handles(
    conn: &mut AsyncPgConnection,
    ids: &[TenantId],
) -> QueryResult<HashMap<TenantId, Handles>> {
    use crate::db::schema::tenants;
    let rows: Vec<(TenantId, Option<String>, Option<String>)> = tenants::table
        .filter(tenants::id.eq_any(ids))
        .select((
            tenants::id,
            tenants::authentik_group_id,
            tenants::ocis_space_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, authentik_group_id, ocis_space_id)| {
            (
                id,
                Handles {
                    authentik_group_id,
                    ocis_space_id,
                },
            )
        })
        .collect())
}
