//! A per-key log followed by re-reading it: the stream listens to the event hub *before* it
//! reads the table, then re-reads after the last id it sent on every notification for its
//! key (and after a lag or a listener reconnect). No gap and no duplicate, whichever replica
//! appended; it does not complete. `domainStatusChanged` and `seatWarnings` are such tails.

use std::collections::VecDeque;
use std::future::Future;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Event, EventHub};
use crate::db::DbPool;
use crate::error::AppResult;

/// Rows read from the table per statement.
const PAGE: i64 = 500;

/// A log whose rows have increasing ids, kept per key.
pub trait TailSource: Send + 'static {
    /// A row of the log.
    type Row: Send + 'static;
    /// What the log is kept per (a tenant).
    type Key: Copy + Send + Sync + 'static;
    /// For log lines: the subscription's name.
    const NAME: &'static str;

    /// Whether `event` says the key's log grew.
    fn concerns(event: &Event, key: Self::Key) -> bool;
    /// The row's id.
    fn id(row: &Self::Row) -> i64;
    /// The key's rows after `after_id`, oldest first, at most `limit`.
    fn after(
        conn: &mut AsyncPgConnection,
        key: Self::Key,
        after_id: i64,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send;
}

struct Tail<S: TailSource> {
    pool: DbPool,
    key: S::Key,
    hub: broadcast::Receiver<Event>,
    last: i64,
    queue: VecDeque<S::Row>,
    failed: bool,
}

/// `key`'s rows after `after_id`: the stored ones, then live ones. The caller has checked
/// that the viewer may see `key`; `hub` is subscribed to here, before the first read.
pub async fn tail<S: TailSource>(
    pool: DbPool,
    hub: &EventHub,
    key: S::Key,
    after_id: i64,
) -> AppResult<impl Stream<Item = AppResult<S::Row>> + use<S>> {
    let mut tail = Tail::<S> {
        pool,
        key,
        hub: hub.subscribe(),
        last: after_id,
        queue: VecDeque::new(),
        failed: false,
    };
    tail.catch_up().await?;
    Ok(futures_util::stream::unfold(tail, Tail::next))
}

impl<S: TailSource> Tail<S> {
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        loop {
            let rows = S::after(&mut conn, self.key, self.last, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                self.last = S::id(&row);
                self.queue.push_back(row);
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn next(mut self) -> Option<(AppResult<S::Row>, Self)> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some((Ok(row), self));
            }
            if self.failed {
                return None;
            }
            match self.hub.recv().await {
                Ok(Event::Resync) | Err(RecvError::Lagged(_)) => {}
                Ok(event) if S::concerns(&event, self.key) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return None,
            }
            // Boxed: inline, the re-read's state would size the stream for its whole idle life.
            if let Err(e) = Box::pin(self.catch_up()).await {
                tracing::error!(error = %e, subscription = S::NAME, "could not re-read events");
                self.failed = true;
                return Some((Err(e), self));
            }
        }
    }
}
