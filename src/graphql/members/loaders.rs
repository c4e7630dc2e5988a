//! Batched member reads: one statement per key type per batch.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use crate::auth::Scope;
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::members::limits::{PlanLimits, limits_for};
use crate::domain::members::steps::{self, MemberStepRow};
use crate::domain::members::{self, MemberKey, MemberRow};
use crate::error::ApiError;
use crate::graphql::loaders::{DbLoader, Loaded, group_by_page, grouped, zero_filled};

/// One forward page of a tenant's members.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MembersOfTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// Sort key to start after.
    pub after: Option<MemberKey>,
    /// Page size (the loader returns up to `limit + 1` rows).
    pub limit: usize,
}

/// How many members a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberCountOfTenant(pub TenantId);

/// A member by id, if the scope may see it (the scope travels in the key, so the visibility
/// filter is applied in SQL: one statement per scope, i.e. per request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisibleMember {
    /// The caller's scope.
    pub scope: Arc<Scope>,
    /// The membership.
    pub id: MemberId,
}

impl Loader<MembersOfTenant> for DbLoader {
    type Value = Arc<Vec<MemberRow>>;
    type Error = ApiError;

    async fn load(&self, keys: &[MembersOfTenant]) -> Loaded<MembersOfTenant, Self::Value> {
        let mut out = HashMap::new();
        for ((after, limit), group) in group_by_page(keys, |k| (k.after.clone(), k.limit)) {
            let ids: Vec<TenantId> = group.iter().map(|k| k.tenant).collect();
            let rows =
                members::pages_by_tenant(&mut *self.conn().await?, &ids, after.as_ref(), limit)
                    .await?;
            out.extend(grouped(&group, rows, |r| r.tenant_id, |k| k.tenant));
        }
        Ok(out)
    }
}

impl Loader<MemberCountOfTenant> for DbLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[MemberCountOfTenant]) -> Loaded<MemberCountOfTenant, i64> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let counts = members::counts(&mut *self.conn().await?, &ids).await?;
        Ok(zero_filled(keys, counts, |k| k.0))
    }
}

impl Loader<VisibleMember> for DbLoader {
    type Value = Arc<MemberRow>;
    type Error = ApiError;

    async fn load(&self, keys: &[VisibleMember]) -> Loaded<VisibleMember, Self::Value> {
        let mut out = HashMap::new();
        for (scope, group) in group_by_page(keys, |k| Arc::clone(&k.scope)) {
            let ids: Vec<MemberId> = group.iter().map(|k| k.id).collect();
            let rows = members::visible(&mut *self.conn().await?, &scope, &ids).await?;
            for row in rows {
                let key = VisibleMember {
                    scope: Arc::clone(&scope),
                    id: row.id,
                };
                out.insert(key, Arc::new(row));
            }
        }
        Ok(out)
    }
}

/// The steps of a member's current operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepsOfMember(pub MemberId);

impl Loader<StepsOfMember> for DbLoader {
    type Value = Arc<Vec<Arc<MemberStepRow>>>;
    type Error = ApiError;

    async fn load(&self, keys: &[StepsOfMember]) -> Loaded<StepsOfMember, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<MemberId> = keys.iter().map(|k| k.0).collect();
        let rows = steps::steps_of(&mut *self.conn().await?, &ids).await?;
        let mut out: HashMap<StepsOfMember, Vec<Arc<MemberStepRow>>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(list) = out.get_mut(&StepsOfMember(row.membership_id)) {
                list.push(Arc::new(row));
            }
        }
        Ok(out
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|r| r.step);
                (k, Arc::new(v))
            })
            .collect())
    }
}

/// The plan limits (seats, quotas) of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitsOfTenant(pub TenantId);

impl Loader<LimitsOfTenant> for DbLoader {
    type Value = PlanLimits;
    type Error = ApiError;

    async fn load(&self, keys: &[LimitsOfTenant]) -> Loaded<LimitsOfTenant, PlanLimits> {
        let ids: Vec<TenantId> = keys.iter().map(|k| k.0).collect();
        let limits = limits_for(&mut *self.conn().await?, &ids).await?;
        Ok(limits
            .into_iter()
            .map(|(t, l)| (LimitsOfTenant(t), l))
            .collect())
    }
}
