//! Batched reads of the security area: one statement per page of tenants.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use crate::domain::ids::TenantId;
use crate::domain::security::mfa::{self, MfaMemberRow};
use crate::domain::security::{self, Policy};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded};

/// A tenant's security policy (the defaults when it has no row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyOfTenant(pub TenantId);

impl Loader<PolicyOfTenant> for DbLoader {
    type Value = Policy;
    type Error = ApiError;

    async fn load(&self, keys: &[PolicyOfTenant]) -> Loaded<PolicyOfTenant, Policy> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let mut found = security::by_tenants(&mut *self.conn().await?, &ids).await?;
        Ok(keys
            .iter()
            .map(|k| (*k, found.remove(&k.0).unwrap_or_default()))
            .collect())
    }
}

/// A tenant's active members with their Authentik user pks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MfaMembersOfTenant(pub TenantId);

impl Loader<MfaMembersOfTenant> for DbLoader {
    type Value = std::sync::Arc<Vec<MfaMemberRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[MfaMembersOfTenant]) -> Loaded<MfaMembersOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows = mfa::members_of(&mut *self.conn().await?, &ids).await?;
        let mut by_tenant: HashMap<TenantId, Vec<MfaMemberRow>> = HashMap::new();
        for row in rows {
            by_tenant.entry(row.member.tenant_id).or_default().push(row);
        }
        Ok(keys
            .iter()
            .map(|k| {
                (
                    *k,
                    std::sync::Arc::new(by_tenant.remove(&k.0).unwrap_or_default()),
                )
            })
            .collect())
    }
}

/// A tenant's upstream handles (Authentik group, oCIS space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlesOfTenant(pub TenantId);

impl Loader<HandlesOfTenant> for DbLoader {
    type Value = security::Handles;
    type Error = ApiError;

    async fn load(&self, keys: &[HandlesOfTenant]) -> Loaded<HandlesOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let mut found = security::handles(&mut *self.conn().await?, &ids).await?;
        Ok(keys
            .iter()
            .filter_map(|k| found.remove(&k.0).map(|h| (*k, h)))
            .collect())
    }
}

/// A tenant's SSO apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SsoAppsOfTenant(pub TenantId);

impl Loader<SsoAppsOfTenant> for DbLoader {
    type Value = std::sync::Arc<Vec<crate::domain::security::sso_apps::SsoAppRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[SsoAppsOfTenant]) -> Loaded<SsoAppsOfTenant, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let rows =
            crate::domain::security::sso_apps::of_tenants(&mut *self.conn().await?, &ids).await?;
        let mut by_tenant: HashMap<TenantId, Vec<_>> = HashMap::new();
        for row in rows {
            by_tenant.entry(row.tenant_id).or_default().push(row);
        }
        Ok(keys
            .iter()
            .map(|k| {
                (
                    *k,
                    std::sync::Arc::new(by_tenant.remove(&k.0).unwrap_or_default()),
                )
            })
            .collect())
    }
}
