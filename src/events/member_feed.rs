//! The member feed of one process: turns `member:<id>` notifications into event
//! rows — one statement per burst of notifications, however many subscribers — and fans
//! them out to this process's `memberProgress` subscriptions.
//!
//! A subscriber never trusts the feed alone for completeness: it remembers the last
//! sequence number it delivered and re-reads from the table on a gap, a lag or a listener
//! reconnect ([`FeedItem::Resync`]), so no event is skipped or sent twice.

use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Event, EventHub};
use crate::db::DbPool;
use crate::domain::members::steps as state;
use crate::domain::members::steps::MemberEventRow as EventRow;

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// An event, as committed.
    Event(Arc<EventRow>),
    /// Events may have been missed: re-read from the table.
    Resync,
}

/// Most notifications read in one statement.
const BURST: usize = 256;

/// The process's member feed.
#[derive(Clone)]
pub struct MemberFeed {
    sender: broadcast::Sender<FeedItem>,
}

impl MemberFeed {
    /// Starts following `hub` until `shutdown`.
    pub fn start(hub: &EventHub, pool: DbPool, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(4096);
        let feed = Self {
            sender: sender.clone(),
        };
        let mut events = hub.subscribe();
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    () = shutdown.cancelled() => break,
                    event = events.recv() => event,
                };
                let mut ids = Vec::new();
                let mut resync = false;
                let closed = matches!(first, Err(RecvError::Closed));
                let mut next = Some(first);
                while let Some(event) = next.take() {
                    match event {
                        Ok(Event::Member(id)) => ids.push(id),
                        Ok(Event::Resync) | Err(RecvError::Lagged(_)) => resync = true,
                        Ok(_) | Err(RecvError::Closed) => {}
                    }
                    if ids.len() < BURST {
                        next = match events.try_recv() {
                            Ok(event) => Some(Ok(event)),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                Some(Err(RecvError::Lagged(n)))
                            }
                            Err(_) => None,
                        };
                    }
                }
                if sender.receiver_count() > 0 {
                    if !ids.is_empty() {
                        match read(&pool, &ids).await {
                            Ok(rows) => {
                                for row in rows {
                                    let _ = sender.send(FeedItem::Event(Arc::new(row)));
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "could not read member events; subscribers will re-read");
                                resync = true;
                            }
                        }
                    }
                    if resync {
                        let _ = sender.send(FeedItem::Resync);
                    }
                }
                if closed {
                    break;
                }
            }
        });
        feed
    }

    /// Every item from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }
}

async fn read(pool: &DbPool, ids: &[i64]) -> anyhow::Result<Vec<EventRow>> {
    let mut conn = pool.get().await?;
    let mut rows = state::events_by_ids(&mut conn, ids).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}
