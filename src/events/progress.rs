//! One key's events of a [`Feed`], replayed then live: the stream behind
//! `provisioningProgress` and `memberProgress`.
//!
//! The stream subscribes to the feed *before* it replays from the table, then delivers live
//! events in sequence order. It tracks the last `seq` sent: an older or equal one is a
//! duplicate and dropped; a jump, a lagging receiver or a listener reconnect triggers a
//! re-read from the table after that `seq`. Whichever process ran the job, every event
//! reaches the table before its NOTIFY, so nothing is missed. The stream completes after
//! the event that ends a run, or at once when nothing is in progress and everything after
//! the starting `seq` was sent.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::feed::{Feed, FeedItem, FeedSource, KeyReceiver};
use crate::db::DbPool;
use crate::error::AppResult;

/// Events read from the table per statement when catching up.
const PAGE: i64 = 500;

/// The state of one subscription.
pub struct Progress<S: FeedSource> {
    pool: DbPool,
    key: S::Key,
    feed: KeyReceiver<S>,
    last: i32,
    queue: VecDeque<Arc<S::Row>>,
    /// The last event queued ends a run: complete once the queue is drained.
    done: bool,
    failed: bool,
}

impl<S: FeedSource> Progress<S> {
    /// `key`'s events after `after_seq`: the stored ones, then live ones. The caller has
    /// checked that the viewer may see `key`.
    pub async fn stream(
        pool: DbPool,
        feed: &Feed<S>,
        key: S::Key,
        after_seq: i32,
    ) -> AppResult<impl Stream<Item = AppResult<Arc<S::Row>>> + use<S>> {
        // Subscribe before reading the table, so nothing falls in between.
        let mut progress = Self {
            pool,
            key,
            feed: feed.subscribe(key),
            last: after_seq,
            queue: VecDeque::new(),
            done: false,
            failed: false,
        };
        progress.catch_up().await?;
        let latest = {
            let mut conn = progress.pool.get().await?;
            S::latest(&mut conn, key).await?
        };
        // Nothing in progress and everything sent: complete after the replay.
        progress.done = latest.is_none_or(|e| S::terminal(&e) && S::seq(&e) <= progress.last);
        Ok(futures_util::stream::unfold(progress, Self::next))
    }

    /// Reads every event after `last` from the table.
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        loop {
            let rows = S::after(&mut conn, self.key, self.last, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                self.last = S::seq(&row);
                self.done = S::terminal(&row);
                self.queue.push_back(Arc::new(row));
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn next(mut self) -> Option<(AppResult<Arc<S::Row>>, Self)> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some((Ok(row), self));
            }
            if self.done || self.failed {
                return None;
            }
            let resync = match self.feed.recv().await {
                Ok(FeedItem::Event(row)) if S::key(&row) == self.key => {
                    let seq = S::seq(&row);
                    if seq <= self.last {
                        continue;
                    }
                    if seq == self.last + 1 {
                        self.last = seq;
                        self.done = S::terminal(&row);
                        self.queue.push_back(row);
                        continue;
                    }
                    true
                }
                Ok(FeedItem::Event(_)) => continue,
                Ok(FeedItem::Resync) | Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return None,
            };
            // Boxed: inline, the re-read's state would size the stream for its whole idle life.
            if resync && let Err(e) = Box::pin(self.catch_up()).await {
                tracing::error!(error = %e, feed = S::NAME, "a progress subscription could not re-read events");
                self.failed = true;
                return Some((Err(e), self));
            }
        }
    }
}
