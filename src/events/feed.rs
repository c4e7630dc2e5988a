//! The progress feeds of one process, one per append-only event log (a tenant's
//! provisioning events, a member's operation events): each turns its notifications into
//! event rows — one statement per burst of notifications, however many subscribers — and
//! routes each row to the subscriptions of its key only (`provisioningProgress`,
//! `memberProgress`): one channel per followed key, so a burst of events for a hundred
//! tenants wakes each subscriber for its own tenant's events, not for all of them.
//!
//! A subscriber never trusts the feed alone for completeness: it remembers the last
//! sequence number it delivered and re-reads from the table on a gap, a lag or a listener
//! reconnect ([`FeedItem::Resync`]), so no event is skipped or sent twice
//! ([`super::progress`]).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Event, EventHub};
use crate::db::DbPool;
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::members::steps::{self as member_steps, MemberEventRow};
use crate::domain::provisioning::{EventRow, state};

/// An append-only log of events, numbered per key from 1, that a feed follows.
pub trait FeedSource: Send + Sync + 'static {
    /// A row of the log.
    type Row: Clone + Send + Sync + 'static;
    /// What the log is kept per (a tenant, a member).
    type Key: Copy + Eq + Hash + Send + Sync + 'static;
    /// For log lines: `provisioning`, `member`.
    const NAME: &'static str;

    /// The row id a notification names, if it is one of this log's.
    fn notified(event: &Event) -> Option<i64>;
    /// The row's global id.
    fn id(row: &Self::Row) -> i64;
    /// The row's key.
    fn key(row: &Self::Row) -> Self::Key;
    /// The row's sequence number within its key.
    fn seq(row: &Self::Row) -> i32;
    /// Whether the row ends a run (the subscription completes after it).
    fn terminal(row: &Self::Row) -> bool;
    /// Rows by id.
    fn by_ids(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send;
    /// The key's rows after `after_seq`, oldest first, at most `limit`.
    fn after(
        conn: &mut AsyncPgConnection,
        key: Self::Key,
        after_seq: i32,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send;
    /// The key's newest row.
    fn latest(
        conn: &mut AsyncPgConnection,
        key: Self::Key,
    ) -> impl Future<Output = QueryResult<Option<Self::Row>>> + Send;
}

/// A tenant's provisioning events (`provisioning:<id>`).
pub struct Provisioning;

impl FeedSource for Provisioning {
    type Row = EventRow;
    type Key = TenantId;
    const NAME: &'static str = "provisioning";

    fn notified(event: &Event) -> Option<i64> {
        match event {
            Event::Provisioning(id) => Some(*id),
            _ => None,
        }
    }
    fn id(row: &EventRow) -> i64 {
        row.id
    }
    fn key(row: &EventRow) -> TenantId {
        row.tenant_id
    }
    fn seq(row: &EventRow) -> i32 {
        row.seq
    }
    fn terminal(row: &EventRow) -> bool {
        row.terminal
    }
    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<EventRow>> {
        state::events_by_ids(conn, ids).await
    }
    async fn after(
        conn: &mut AsyncPgConnection,
        key: TenantId,
        after_seq: i32,
        limit: i64,
    ) -> QueryResult<Vec<EventRow>> {
        state::events_after(conn, key, after_seq, limit).await
    }
    async fn latest(conn: &mut AsyncPgConnection, key: TenantId) -> QueryResult<Option<EventRow>> {
        state::latest_event(conn, key).await
    }
}

/// A member's operation events (`member:<id>`).
pub struct Member;

impl FeedSource for Member {
    type Row = MemberEventRow;
    type Key = MemberId;
    const NAME: &'static str = "member";

    fn notified(event: &Event) -> Option<i64> {
        match event {
            Event::Member(id) => Some(*id),
            _ => None,
        }
    }
    fn id(row: &MemberEventRow) -> i64 {
        row.id
    }
    fn key(row: &MemberEventRow) -> MemberId {
        row.membership_id
    }
    fn seq(row: &MemberEventRow) -> i32 {
        row.seq
    }
    fn terminal(row: &MemberEventRow) -> bool {
        row.terminal
    }
    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<MemberEventRow>> {
        member_steps::events_by_ids(conn, ids).await
    }
    async fn after(
        conn: &mut AsyncPgConnection,
        key: MemberId,
        after_seq: i32,
        limit: i64,
    ) -> QueryResult<Vec<MemberEventRow>> {
        member_steps::events_after(conn, key, after_seq, limit).await
    }
    async fn latest(
        conn: &mut AsyncPgConnection,
        key: MemberId,
    ) -> QueryResult<Option<MemberEventRow>> {
        member_steps::latest_event(conn, key).await
    }
}

/// What a subscriber receives.
pub enum FeedItem<R> {
    /// An event, as committed.
    Event(Arc<R>),
    /// Events may have been missed: re-read from the table.
    Resync,
}

impl<R> Clone for FeedItem<R> {
    fn clone(&self) -> Self {
        match self {
            Self::Event(row) => Self::Event(Arc::clone(row)),
            Self::Resync => Self::Resync,
        }
    }
}

/// Most notifications read in one statement.
const BURST: usize = 256;

/// Items a key's channel holds for its slowest subscriber; one that falls further behind
/// lags and re-reads from the table. A run is about a dozen events, so a subscriber only
/// lags when it stops reading; kept small because each followed key holds one.
const KEY_CAPACITY: usize = 64;

/// A channel per followed key.
type Channels<S> =
    HashMap<<S as FeedSource>::Key, broadcast::Sender<FeedItem<<S as FeedSource>::Row>>>;

/// The channels of the keys followed in this process.
struct Routes<S: FeedSource> {
    keys: Mutex<Channels<S>>,
}

impl<S: FeedSource> Routes<S> {
    fn keys(&self) -> MutexGuard<'_, Channels<S>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process's feed of one log: one reader of the notifications, and one channel per key
/// someone follows, so an event wakes only its own key's subscribers.
pub struct Feed<S: FeedSource> {
    routes: Arc<Routes<S>>,
}

impl<S: FeedSource> Clone for Feed<S> {
    fn clone(&self) -> Self {
        Self {
            routes: Arc::clone(&self.routes),
        }
    }
}

/// The provisioning feed (`provisioningProgress`).
pub type ProvisioningFeed = Feed<Provisioning>;
/// The member feed (`memberProgress`).
pub type MemberFeed = Feed<Member>;

impl<S: FeedSource> Feed<S> {
    /// Starts following `hub` until `shutdown`.
    pub fn start(hub: &EventHub, pool: DbPool, shutdown: CancellationToken) -> Self {
        let feed = Self {
            routes: Arc::new(Routes {
                keys: Mutex::new(HashMap::new()),
            }),
        };
        let routes = Arc::clone(&feed.routes);
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
                        Ok(Event::Resync) | Err(RecvError::Lagged(_)) => resync = true,
                        Ok(event) => ids.extend(S::notified(&event)),
                        Err(RecvError::Closed) => {}
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
                if !routes.keys().is_empty() {
                    if !ids.is_empty() {
                        match read::<S>(&pool, &ids).await {
                            Ok(rows) => route(&routes, rows),
                            Err(e) => {
                                tracing::warn!(error = %e, feed = S::NAME, "could not read events; subscribers will re-read");
                                resync = true;
                            }
                        }
                    }
                    if resync {
                        for sender in routes.keys().values() {
                            let _ = sender.send(FeedItem::Resync);
                        }
                    }
                }
                if closed {
                    break;
                }
            }
            // Subscribers see their channel close and end.
            routes.keys().clear();
        });
        feed
    }

    /// Every item of `key` from now on (and every [`FeedItem::Resync`]).
    pub fn subscribe(&self, key: S::Key) -> KeyReceiver<S> {
        let receiver = self
            .routes
            .keys()
            .entry(key)
            .or_insert_with(|| broadcast::channel(KEY_CAPACITY).0)
            .subscribe();
        KeyReceiver {
            receiver: Some(receiver),
            key,
            routes: Arc::clone(&self.routes),
        }
    }

    /// How many keys have a channel (for tests: a key's channel goes with its last
    /// subscriber).
    pub fn keys_followed(&self) -> usize {
        self.routes.keys().len()
    }
}

/// Sends each row to its key's channel, if anyone follows the key.
fn route<S: FeedSource>(routes: &Routes<S>, rows: Vec<S::Row>) {
    let keys = routes.keys();
    for row in rows {
        if let Some(sender) = keys.get(&S::key(&row)) {
            let _ = sender.send(FeedItem::Event(Arc::new(row)));
        }
    }
}

/// A subscription to one key of a [`Feed`]; the key's channel is dropped with its last
/// subscriber.
pub struct KeyReceiver<S: FeedSource> {
    receiver: Option<broadcast::Receiver<FeedItem<S::Row>>>,
    key: S::Key,
    routes: Arc<Routes<S>>,
}

impl<S: FeedSource> KeyReceiver<S> {
    /// The key's next item.
    pub async fn recv(&mut self) -> Result<FeedItem<S::Row>, RecvError> {
        match &mut self.receiver {
            Some(receiver) => receiver.recv().await,
            None => Err(RecvError::Closed),
        }
    }
}

impl<S: FeedSource> Drop for KeyReceiver<S> {
    fn drop(&mut self) {
        drop(self.receiver.take());
        // Under the lock, so no subscriber can join between the count and the removal.
        let mut keys = self.routes.keys();
        if keys
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            keys.remove(&self.key);
        }
    }
}

async fn read<S: FeedSource>(pool: &DbPool, ids: &[i64]) -> anyhow::Result<Vec<S::Row>> {
    let mut conn = pool.get().await?;
    let mut rows = S::by_ids(&mut conn, ids).await?;
    rows.sort_by_key(S::id);
    Ok(rows)
}
