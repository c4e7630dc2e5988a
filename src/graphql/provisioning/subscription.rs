//! `provisioningProgress`: a tenant's provisioning events, replayed then live, through the
//! process's [`ProvisioningFeed`] (see [`crate::events::progress`]).

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};

use super::types::ProvisioningEvent;
use crate::error::ApiError;
use crate::events::feed::ProvisioningFeed;
use crate::events::progress::Progress;
use crate::graphql::tenants::followed::{cursor_not_negative, visible_tenant};

/// Provisioning subscriptions.
#[derive(Default)]
pub struct ProvisioningSubscription;

#[Subscription]
impl ProvisioningSubscription {
    /// A tenant's provisioning events: first every stored event after `afterSeq`, then live
    /// ones as they happen, in `seq` order with no gap and no duplicate, whichever server
    /// ran the work. Completes after the event that ends a run (`terminal`), or at once when
    /// nothing is in progress and everything after `afterSeq` was sent. Visible like
    /// `tenant(slug)`.
    async fn provisioning_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant_slug: String,
        #[graphql(
            desc = "Send only events after this sequence number (default 0: from the start).",
            default = 0
        )]
        after_seq: i32,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ProvisioningEvent>> + use<>>
    {
        // Boxed: inline, the setup's state would size the stream for its whole life.
        Box::pin(progress(ctx, tenant_slug, after_seq)).await
    }
}

/// What `provisioning_progress` resolves to: checks, the first read, and the stream.
async fn progress(
    ctx: &Context<'_>,
    tenant_slug: String,
    after_seq: i32,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ProvisioningEvent>> + use<>> {
    cursor_not_negative("afterSeq", after_seq.into())?;
    let (pool, tenant) = visible_tenant(ctx, &tenant_slug).await?;
    let feed = ctx.data_unchecked::<ProvisioningFeed>();
    let events = Progress::stream(pool, feed, tenant.id, after_seq)
        .await
        .map_err(ApiError::from)?;
    Ok(events.map(|row| {
        row.map(ProvisioningEvent)
            .map_err(|e| ApiError::from(e).into())
    }))
}
