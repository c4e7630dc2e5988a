//! `memberProgress`: a member's operation events, replayed then live — the design of
//! `provisioningProgress` (subscribe to the feed first, replay from the table, then deliver
//! live events in `seq` order; a gap, a lag or a listener reconnect re-reads the table).

use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::mutation::member_id;
use super::types::MemberEvent;
use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain::ids::MemberId;
use crate::domain::members::{self, steps, steps::MemberEventRow};
use crate::error::{ApiError, AppError, AppResult};
use crate::events::member_feed::{FeedItem, MemberFeed};

/// Events read from the table per statement when catching up.
const PAGE: i64 = 500;

/// Member subscriptions.
#[derive(Default)]
pub struct MemberSubscription;

struct Progress {
    pool: DbPool,
    member: MemberId,
    feed: broadcast::Receiver<FeedItem>,
    last: i32,
    queue: VecDeque<Arc<MemberEventRow>>,
    done: bool,
    failed: bool,
}

impl Progress {
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        loop {
            let rows = steps::events_after(&mut conn, self.member, self.last, PAGE).await?;
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

    async fn next(mut self) -> Option<(async_graphql::Result<MemberEvent>, Self)> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some((Ok(MemberEvent(row)), self));
            }
            if self.done || self.failed {
                return None;
            }
            let resync = match self.feed.recv().await {
                Ok(FeedItem::Event(row)) if row.membership_id == self.member => {
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
                tracing::error!(error = %e, "memberProgress could not re-read events");
                self.failed = true;
                return Some((Err(ApiError::from(e).into()), self));
            }
        }
    }
}

#[Subscription]
impl MemberSubscription {
    /// A member's operation events (create, suspend, …): first every stored event after
    /// `afterSeq`, then live ones, in `seq` order with no gap and no duplicate, whichever
    /// server ran the work. Completes after the event that ends an operation (`terminal`),
    /// or at once when nothing is in progress and everything after `afterSeq` was sent.
    /// Visible like the member.
    async fn member_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "memberId", desc = "The member's global id.")] member_id_arg: ID,
        #[graphql(
            desc = "Send only events after this sequence number (default 0: from the start).",
            default = 0
        )]
        after_seq: i32,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MemberEvent>> + use<>> {
        if after_seq < 0 {
            return Err(
                ApiError::from(AppError::bad_input("afterSeq", "must not be negative")).into(),
            );
        }
        let member = member_id(&member_id_arg, "memberId").map_err(ApiError::from)?;
        let viewer = ctx.viewer().await?;
        let pool = ctx.data_unchecked::<DbPool>().clone();
        let feed = ctx.data_unchecked::<MemberFeed>().subscribe();
        {
            let mut conn = pool.get().await.map_err(ApiError::from)?;
            let seen = members::visible(&mut conn, &viewer.scope(), &[member])
                .await
                .map_err(|e| ApiError::from(AppError::from(e)))?;
            if seen.is_empty() {
                return Err(ApiError::from(AppError::NotFound { what: "member" }).into());
            }
        }
        let mut progress = Progress {
            pool,
            member,
            feed,
            last: after_seq,
            queue: VecDeque::new(),
            done: false,
            failed: false,
        };
        progress.catch_up().await.map_err(ApiError::from)?;
        let latest = {
            let mut conn = progress.pool.get().await.map_err(ApiError::from)?;
            steps::latest_event(&mut conn, member)
                .await
                .map_err(|e| ApiError::from(AppError::from(e)))?
        };
        progress.done = latest.is_none_or(|e| e.terminal && e.seq <= progress.last);
        Ok(futures_util::stream::unfold(progress, Progress::next))
    }
}
