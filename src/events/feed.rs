//! The progress feeds of one process, one per append-only event log (a tenant's
//! provisioning events, a member's operation events): each turns its notifications into
//! event rows — one statement per burst of notifications, however many subscribers — and
//! fans them out to this process's subscriptions (`provisioningProgress`, `memberProgress`).
//!
//! A subscriber never trusts the feed alone for completeness: it remembers the last
//! sequence number it delivered and re-reads from the table on a gap, a lag or a listener
//! reconnect ([`FeedItem::Resync`]), so no event is skipped or sent twice
//! ([`super::progress`]).

use std::future::Future;
use std::sync::Arc;

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
    type Key: Copy + PartialEq + Send + Sync + 'static;
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

/// The process's feed of one log.
pub struct Feed<S: FeedSource> {
    sender: broadcast::Sender<FeedItem<S::Row>>,
}

impl<S: FeedSource> Clone for Feed<S> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
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
                if sender.receiver_count() > 0 {
                    if !ids.is_empty() {
                        match read::<S>(&pool, &ids).await {
                            Ok(rows) => {
                                for row in rows {
                                    let _ = sender.send(FeedItem::Event(Arc::new(row)));
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, feed = S::NAME, "could not read events; subscribers will re-read");
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
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem<S::Row>> {
        self.sender.subscribe()
    }
}

async fn read<S: FeedSource>(pool: &DbPool, ids: &[i64]) -> anyhow::Result<Vec<S::Row>> {
    let mut conn = pool.get().await?;
    let mut rows = S::by_ids(&mut conn, ids).await?;
    rows.sort_by_key(S::id);
    Ok(rows)
}
