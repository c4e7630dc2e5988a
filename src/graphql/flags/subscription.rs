//! `featureFlagsChanged`: a tenant's flag values, sent again whenever they change.

use std::sync::Arc;

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::auth::{ContextAuth, VerifiedToken};
use crate::db::DbPool;
use crate::domain;
use crate::error::{ApiError, AppResult};
use crate::events::{Event, EventHub};
use crate::graphql::flags::types::FeatureFlagValue;
use crate::graphql::tenants::followed::visible_tenant;

/// Feature flag subscriptions.
#[derive(Default)]
pub struct FlagSubscription;

/// The tenant's values now, or `None` when the caller may no longer see the tenant (the
/// viewer is re-read each time, so a revoked membership ends the stream).
async fn values(
    pool: &DbPool,
    token: &VerifiedToken,
    tenant: Uuid,
) -> AppResult<Option<Vec<FeatureFlagValue>>> {
    let mut conn = pool.get().await?;
    let viewer = domain::users::load_viewer(&mut conn, token).await?;
    let Ok(row) = domain::tenants::visible_by_id(&mut conn, &viewer, tenant.into()).await else {
        return Ok(None);
    };
    let facts = domain::flags::rules::TenantFacts {
        id: row.id.uuid(),
        partner_id: row.partner_id.map(|p| p.uuid()),
        plan: &row.plan,
    };
    let mut out = Vec::new();
    for flag in domain::flags::live(&mut conn).await? {
        let value = flag.definition()?.evaluate(&facts).0;
        out.push(FeatureFlagValue {
            key: flag.key,
            value,
        });
    }
    Ok(Some(out))
}

#[Subscription]
impl FlagSubscription {
    /// Sends the tenant's feature flag values (like `Tenant.featureFlags`) at once, then again
    /// each time any of them changes — a flag edited or archived, or the tenant's plan or
    /// partner changed — so a long-lived session picks changes up. Visible like
    /// `tenant(slug)`; ends when the caller loses access to the tenant.
    async fn feature_flags_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant_slug: String,
    ) -> async_graphql::Result<impl Stream<Item = Vec<FeatureFlagValue>> + use<>> {
        // Boxed: inline, the setup's state would size the stream for its whole life.
        Box::pin(flags_changed(ctx, tenant_slug)).await
    }
}

/// What `feature_flags_changed` resolves to: checks, the first read, and the stream.
async fn flags_changed(
    ctx: &Context<'_>,
    tenant_slug: String,
) -> async_graphql::Result<impl Stream<Item = Vec<FeatureFlagValue>> + use<>> {
    let token = ctx.verified_token().await?;
    let hub = ctx.data_unchecked::<EventHub>();
    // Subscribe before reading the current state, so no change falls in between.
    let events = hub.subscribe();
    let (pool, tenant) = visible_tenant(ctx, &tenant_slug).await?;
    let last = values(&pool, &token, tenant.id.uuid())
        .await
        .map_err(ApiError::from)?
        .unwrap_or_default();
    let first = futures_util::stream::once(futures_util::future::ready(last.clone()));
    let state = (events, pool, token, tenant.id.uuid(), last);
    Ok(first.chain(futures_util::stream::unfold(
        state,
        |(mut events, pool, token, tenant, mut last): (
            _,
            DbPool,
            Arc<VerifiedToken>,
            Uuid,
            Vec<FeatureFlagValue>,
        )| async move {
            loop {
                match events.recv().await {
                    Ok(Event::TenantChanged(id)) if id != tenant => continue,
                    Ok(Event::JobsQueued | Event::Provisioning(_) | Event::ImpersonationStarted(_)) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
                // Boxed: inline, the re-read's state would size the stream for its whole
                // idle life (about 7 KiB per subscription).
                match Box::pin(values(&pool, &token, tenant)).await {
                    Ok(Some(now)) if now != last => {
                        last = now.clone();
                        return Some((now, (events, pool, token, tenant, last)));
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "featureFlagsChanged could not re-read; will retry on the next event");
                        continue;
                    }
                }
            }
        },
    )))
}
