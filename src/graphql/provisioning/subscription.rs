//! `provisioningProgress`: a tenant's provisioning events, replayed then live.
//!
//! The stream subscribes to the process's [`ProvisioningFeed`] *before* it replays from the
//! table, then delivers live events in sequence order. It tracks the last `seq` sent: an
//! older or equal one is a duplicate and dropped; a jump, a lagging receiver or a listener
//! reconnect triggers a re-read from the table after that `seq`. Whichever process ran the
//! job, every event reaches the table before its NOTIFY, so nothing is missed.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::domain::ids::TenantId;
use async_graphql::{Context, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::types::ProvisioningEvent;
use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::domain::provisioning::{EventRow, state};
use crate::error::{ApiError, AppError, AppResult};
use crate::events::feed::{FeedItem, ProvisioningFeed};

/// Events read from the table per statement when catching up.
const PAGE: i64 = 500;

/// Provisioning subscriptions.
#[derive(Default)]
pub struct ProvisioningSubscription;

struct Progress {
    pool: DbPool,
    tenant: TenantId,
    feed: broadcast::Receiver<FeedItem>,
    last: i32,
    queue: VecDeque<Arc<EventRow>>,
    /// The last event queued ends a run: complete once the queue is drained.
    done: bool,
    failed: bool,
}

impl Progress {
    /// Reads every event after `last` from the table.
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        loop {
            let rows = state::events_after(&mut conn, self.tenant, self.last, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                self.last = row.seq;
                self.done = row.terminal;
                self.queue.push_back(Arc::new(row));
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn next(mut self) -> Option<(async_graphql::Result<ProvisioningEvent>, Self)> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some((Ok(ProvisioningEvent(row)), self));
            }
            if self.done || self.failed {
                return None;
            }
            let resync = match self.feed.recv().await {
                Ok(FeedItem::Event(row)) if row.tenant_id == self.tenant => {
                    if row.seq <= self.last {
                        continue;
                    }
                    if row.seq == self.last + 1 {
                        self.last = row.seq;
                        self.done = row.terminal;
                        self.queue.push_back(row);
                        continue;
                    }
                    true
                }
                Ok(FeedItem::Event(_)) => continue,
                Ok(FeedItem::Resync) | Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return None,
            };
            if resync && let Err(e) = self.catch_up().await {
                tracing::error!(error = %e, "provisioningProgress could not re-read events");
                self.failed = true;
                return Some((Err(ApiError::from(e).into()), self));
            }
        }
    }
}

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
        if after_seq < 0 {
            return Err(
                ApiError::from(AppError::bad_input("afterSeq", "must not be negative")).into(),
            );
        }
        let viewer = ctx.viewer().await?;
        let pool = ctx.data_unchecked::<DbPool>().clone();
        // Subscribe before reading the table, so nothing falls in between.
        let feed = ctx.data_unchecked::<ProvisioningFeed>().subscribe();
        let tenant = {
            let mut conn = pool.get().await.map_err(ApiError::from)?;
            domain::tenants::visible_by_slug(&mut conn, &viewer, &tenant_slug)
                .await
                .map_err(ApiError::from)?
        };
        let mut progress = Progress {
            pool,
            tenant: tenant.id,
            feed,
            last: after_seq,
            queue: VecDeque::new(),
            done: false,
            failed: false,
        };
        progress.catch_up().await.map_err(ApiError::from)?;
        let latest = {
            let mut conn = progress.pool.get().await.map_err(ApiError::from)?;
            state::latest_event(&mut conn, tenant.id)
                .await
                .map_err(|e| ApiError::from(AppError::from(e)))?
        };
        // Nothing in progress and everything sent: complete after the replay.
        progress.done = latest.is_none_or(|e| e.terminal && e.seq <= progress.last);
        Ok(futures_util::stream::unfold(progress, Progress::next))
    }
}
