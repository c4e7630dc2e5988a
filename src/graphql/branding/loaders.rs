//! Batched branding reads: two statements per batch (brandings, templates), whatever the
//! number of tenants and partners.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::Loader;

use crate::domain::branding::{self, BrandingSource, Effective, OwnBranding, Owner};
use crate::domain::ids::{PartnerId, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::loaders;
use crate::graphql::loaders::{DbLoader, Loaded};

/// What one tenant or partner sets itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnBrandingOf(pub Owner);

impl Loader<OwnBrandingOf> for DbLoader {
    type Value = Arc<OwnBranding>;
    type Error = ApiError;

    async fn load(&self, keys: &[OwnBrandingOf]) -> Loaded<OwnBrandingOf, Self::Value> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let owners: Vec<Owner> = keys.iter().map(|k| k.0).collect();
        let rows = branding::own_brandings(&mut *self.conn().await?, &owners).await?;
        Ok(rows
            .into_iter()
            .map(|(owner, own)| (OwnBrandingOf(owner), Arc::new(own)))
            .collect())
    }
}

/// What `owner` sets itself (batched).
pub async fn own(ctx: &Context<'_>, owner: Owner) -> ApiResult<Arc<OwnBranding>> {
    Ok(loaders(ctx)
        .db
        .load_one(OwnBrandingOf(owner))
        .await?
        .unwrap_or_default())
}

/// The effective branding of a tenant (inheriting from `partner`) — one batch with its
/// partner's.
pub async fn effective_of_tenant(
    ctx: &Context<'_>,
    tenant: TenantId,
    partner: Option<PartnerId>,
) -> ApiResult<Effective> {
    // Both keys join the same batch: the loads run concurrently.
    let partner_own = async {
        match partner {
            Some(p) => own(ctx, Owner::Partner(p)).await.map(Some),
            None => Ok(None),
        }
    };
    let (own, inherited) =
        futures_util::future::try_join(own(ctx, Owner::Tenant(tenant)), partner_own).await?;
    Ok(branding::effective(
        &own,
        BrandingSource::Tenant,
        inherited.as_deref(),
    ))
}

/// The effective branding of a partner (its own values over the defaults).
pub async fn effective_of_partner(ctx: &Context<'_>, partner: PartnerId) -> ApiResult<Effective> {
    let own = own(ctx, Owner::Partner(partner)).await?;
    Ok(branding::effective(&own, BrandingSource::Partner, None))
}
