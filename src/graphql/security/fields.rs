//! The security fields of `Tenant` (declared on the type, resolved here).

use std::sync::Arc;

use async_graphql::Context;

use crate::auth::{ContextAuth, TenantAccess};
use crate::db::DbPool;
use crate::domain::ids::UserId;
use crate::domain::security::mfa::{MfaMemberRow, must_enrol};
use crate::domain::security::mfa_snapshot;
use crate::domain::security::upstream_reads::UpstreamReads;
use crate::domain::tenants::TenantRow;
use crate::error::{ApiResult, AppError};
use crate::graphql::context::{loaders, require_tenant};
use crate::graphql::members::types::Member;
use crate::graphql::scalars::Long;
use crate::graphql::security::loaders::{HandlesOfTenant, MfaMembersOfTenant, PolicyOfTenant};
use crate::graphql::security::types::{
    AuthenticatorTypeCount, MemberMfa, MfaStatus, SecurityPolicy, Storage,
};
use crate::upstream::Upstreams;
use crate::upstream::authentik::AuthenticatorCount;

/// `Tenant.securityPolicy`: the tenant's admins, its partner's staff and operators.
pub async fn security_policy(ctx: &Context<'_>, tenant: &TenantRow) -> ApiResult<SecurityPolicy> {
    require_tenant(
        ctx,
        tenant.tenant_ref(),
        TenantAccess::Admin,
        "the security policy is visible to tenant admins only",
    )
    .await?;
    let policy = loaders(ctx)
        .db
        .load_one(PolicyOfTenant(tenant.id))
        .await?
        .unwrap_or_default();
    let geoip = ctx.client_network().geoip;
    Ok(SecurityPolicy { policy, geoip })
}

/// Admins and owners of the tenant, and operators (not partner staff).
async fn require_tenant_admin(ctx: &Context<'_>, tenant: &TenantRow, what: &str) -> ApiResult<()> {
    let access = ctx.viewer().await?.tenant_access(tenant.tenant_ref());
    if matches!(
        access,
        TenantAccess::Admin | TenantAccess::Owner | TenantAccess::Operator
    ) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("{what} is visible to tenant admins only")).into())
    }
}

/// `Tenant.mfaStatus`: Authentik authenticators of every active member, fetched with the
/// process-wide concurrency bound and cache of [`UpstreamReads`]; what they say is stored in
/// the enrollment snapshot tenant health reads ([`mfa_snapshot`]).
pub async fn mfa_status(ctx: &Context<'_>, tenant: &TenantRow) -> ApiResult<MfaStatus> {
    require_tenant_admin(ctx, tenant, "MFA enrollment").await?;
    let Some(authentik) = ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone() else {
        return Err(AppError::UpstreamUnavailable {
            service: "authentik",
            cause: anyhow::anyhow!("Authentik is not configured"),
        }
        .into());
    };
    let reads = ctx.data_unchecked::<Arc<UpstreamReads>>();
    let db = &loaders(ctx).db;
    let (members, policy) = tokio::try_join!(
        db.load_one(MfaMembersOfTenant(tenant.id)),
        db.load_one(PolicyOfTenant(tenant.id)),
    )?;
    let (members, mode) = (
        members.unwrap_or_default(),
        policy.unwrap_or_default().mfa_mode,
    );
    let lookups = members.iter().map(|row| {
        let authentik = Arc::clone(&authentik);
        async move {
            match row.authentik_user_pk {
                None => Ok(Vec::new()),
                Some(pk) => {
                    reads
                        .authenticators(
                            pk,
                            || async move { authentik.authenticators_by_type(pk).await },
                        )
                        .await
                }
            }
        }
    });
    let found = futures_util::future::try_join_all(lookups)
        .await
        .map_err(AppError::from)?;
    remember(ctx, &members, &found).await;
    let mut status = MfaStatus {
        enrolled: 0,
        total: members.len() as i32,
        flagged: 0,
        members: Vec::with_capacity(members.len()),
    };
    for (row, counts) in members.iter().zip(found) {
        let enrolled = counts.iter().any(|c| c.count > 0);
        let required = must_enrol(mode, &row.member);
        let flagged = required && !enrolled;
        status.enrolled += i32::from(enrolled);
        status.flagged += i32::from(flagged);
        status.members.push(MemberMfa {
            member: Member(row.member.clone()),
            enrolled,
            required,
            flagged,
            authenticators: counts
                .into_iter()
                .map(|c| AuthenticatorTypeCount {
                    kind: c.kind,
                    count: c.count as i32,
                })
                .collect(),
        });
    }
    Ok(status)
}

/// Stores what Authentik just said of each member with an account in the enrollment
/// snapshot the health rule reads (one statement). A failure costs the snapshot only, never
/// the answer: it is logged, and the `mfa_snapshot` job catches up.
async fn remember(ctx: &Context<'_>, members: &[MfaMemberRow], found: &[Vec<AuthenticatorCount>]) {
    let known: Vec<(UserId, bool)> = members
        .iter()
        .zip(found)
        .filter(|(row, _)| row.authentik_user_pk.is_some())
        .map(|(row, counts)| (row.member.user_id, counts.iter().any(|c| c.count > 0)))
        .collect();
    if known.is_empty() {
        return;
    }
    let stored = async {
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        anyhow::Ok(mfa_snapshot::store(&mut conn, &known).await?)
    }
    .await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not store the MFA enrollment snapshot");
    }
}

/// `Tenant.storage`: the tenant's oCIS space, `None` while it is not provisioned (or oCIS is
/// not configured).
pub async fn storage(ctx: &Context<'_>, tenant: &TenantRow) -> ApiResult<Option<Storage>> {
    require_tenant(
        ctx,
        tenant.tenant_ref(),
        TenantAccess::Admin,
        "storage is visible to tenant admins only",
    )
    .await?;
    let handles = loaders(ctx)
        .db
        .load_one(HandlesOfTenant(tenant.id))
        .await?
        .unwrap_or_default();
    let (Some(space), Some(ocis)) = (
        handles.ocis_space_id.as_deref(),
        ctx.data_unchecked::<Arc<Upstreams>>().ocis.clone(),
    ) else {
        return Ok(None);
    };
    let reads = ctx.data_unchecked::<Arc<UpstreamReads>>();
    let quota = reads
        .space(space, || async move { ocis.space_usage(space).await })
        .await
        .map_err(AppError::from)?;
    let long = |n: u64| Long(i64::try_from(n).unwrap_or(i64::MAX));
    Ok(Some(Storage {
        quota_bytes: long(quota.total),
        used_bytes: long(quota.used),
        remaining_bytes: long(quota.remaining),
        state: quota.state,
    }))
}

/// `Tenant.ssoApps`: the tenant's admins, its partner's staff and operators.
pub async fn sso_apps(
    ctx: &Context<'_>,
    tenant: &TenantRow,
) -> ApiResult<Vec<crate::graphql::security::sso_apps::SsoApp>> {
    require_tenant(
        ctx,
        tenant.tenant_ref(),
        TenantAccess::Admin,
        "SSO apps are visible to tenant admins only",
    )
    .await?;
    let rows = loaders(ctx)
        .db
        .load_one(crate::graphql::security::loaders::SsoAppsOfTenant(
            tenant.id,
        ))
        .await?
        .unwrap_or_default();
    Ok(rows
        .iter()
        .cloned()
        .map(crate::graphql::security::sso_apps::SsoApp)
        .collect())
}
