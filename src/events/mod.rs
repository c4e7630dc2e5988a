//! Change events across processes, over PostgreSQL `LISTEN/NOTIFY`.
//!
//! A mutation calls [`notify`] inside its transaction, so the event goes out only if the
//! change commits, and reaches every replica. Each process keeps one listening connection
//! ([`EventHub::start`]), re-`LISTEN`s after a reconnect, and fans events out to in-process
//! subscribers through a broadcast channel. Payloads stay tiny: what changed, not the data.

pub mod feed;
pub mod progress;
pub mod tail;

use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::cached;

/// The notification channel.
pub const CHANNEL: &str = "platform_api_events";
/// How a [`Event::Provisioning`] payload starts (the id follows); statements that NOTIFY
/// appended events themselves build it in SQL.
pub const PROVISIONING_PREFIX: &str = "provisioning:";
/// The `application_name` of each process's listening connection.
pub const LISTENER_NAME: &str = "platform-api listener";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A feature flag was created, changed or archived.
    FlagsChanged,
    /// A tenant's attributes (plan, partner, status…) changed.
    TenantChanged(Uuid),
    /// Jobs were queued: idle workers should look for work.
    JobsQueued,
    /// A provisioning event was appended (its `provisioning_events.id`).
    Provisioning(i64),
    /// A member operation event was appended (its `member_events.id`).
    Member(i64),
    /// This tenant's seat usage crossed a warning threshold (a `seat_events` row).
    SeatWarning(Uuid),
    /// A domain of this tenant changed status (the rows are its `domain.status_changed`
    /// audit rows).
    DomainStatus(Uuid),
    /// An impersonation session started (for the user's notification).
    ImpersonationStarted(Uuid),
    /// An impersonation session was ended: its sockets close.
    ImpersonationEnded(Uuid),
    /// A user's `platform_admin` flag changed (sent by a trigger, whatever changed it).
    UserChanged(Uuid),
    /// The listener reconnected: events may have been missed, so subscribers should re-read.
    Resync,
}

impl Event {
    fn payload(&self) -> String {
        match self {
            Self::FlagsChanged => "flags".into(),
            Self::TenantChanged(id) => format!("tenant:{id}"),
            Self::JobsQueued => "jobs".into(),
            Self::Provisioning(id) => format!("{PROVISIONING_PREFIX}{id}"),
            Self::Member(id) => format!("member:{id}"),
            Self::DomainStatus(id) => format!("domains:{id}"),
            Self::SeatWarning(id) => format!("seats:{id}"),
            Self::ImpersonationStarted(id) => format!("impersonation:{id}"),
            Self::ImpersonationEnded(id) => format!("impersonation-end:{id}"),
            Self::UserChanged(id) => format!("user:{id}"),
            Self::Resync => "resync".into(),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            None if payload == "flags" => Some(Self::FlagsChanged),
            None if payload == "jobs" => Some(Self::JobsQueued),
            Some(("tenant", id)) => Uuid::parse_str(id).ok().map(Self::TenantChanged),
            Some(("provisioning", id)) => id.parse().ok().map(Self::Provisioning),
            Some(("member", id)) => id.parse().ok().map(Self::Member),
            Some(("domains", id)) => Uuid::parse_str(id).ok().map(Self::DomainStatus),
            Some(("seats", id)) => Uuid::parse_str(id).ok().map(Self::SeatWarning),
            Some(("impersonation", id)) => Uuid::parse_str(id).ok().map(Self::ImpersonationStarted),
            Some(("impersonation-end", id)) => {
                Uuid::parse_str(id).ok().map(Self::ImpersonationEnded)
            }
            Some(("user", id)) => Uuid::parse_str(id).ok().map(Self::UserChanged),
            _ => None,
        }
    }
}

/// Queues `event` for delivery when the current transaction commits (one statement).
pub async fn notify(conn: &mut AsyncPgConnection, event: &Event) -> diesel::QueryResult<()> {
    cached(
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(event.payload()),
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Queues every event in `events` for delivery at commit, in one statement.
pub async fn notify_all(conn: &mut AsyncPgConnection, events: &[Event]) -> diesel::QueryResult<()> {
    match events {
        [] => Ok(()),
        [one] => notify(conn, one).await,
        many => {
            let payloads: Vec<String> = many.iter().map(Event::payload).collect();
            cached(
                diesel::sql_query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
                    .bind::<diesel::sql_types::Text, _>(CHANNEL)
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(payloads),
            )
            .execute(conn)
            .await
            .map(|_| ())
        }
    }
}

/// The process's event fan-out.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    /// Starts listening on `url` until `shutdown`; reconnects with backoff.
    pub fn start(url: String, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let hub = Self {
            sender: sender.clone(),
        };
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(100);
            let mut first = true;
            while !shutdown.is_cancelled() {
                let session = std::time::Instant::now();
                let outcome = tokio::select! {
                    () = shutdown.cancelled() => break,
                    outcome = listen(&url, &sender, first) => outcome,
                };
                first = false;
                // A session that lived was a working one: start the backoff afresh, so a
                // restarted database is listened to again within a second.
                if session.elapsed() > Duration::from_secs(5) {
                    delay = Duration::from_millis(100);
                }
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        });
        hub
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// One listening session: `LISTEN`, then forward until the connection fails. A dedicated
/// tokio-postgres connection (not pooled): its driver ends when the server goes away, so a
/// killed backend is noticed and the caller reconnects.
async fn listen(url: &str, sender: &broadcast::Sender<Event>, first: bool) -> anyhow::Result<()> {
    let mut config: tokio_postgres::Config = url.parse()?;
    // Named, so operators (and tests) can find it in `pg_stat_activity`.
    config.application_name(LISTENER_NAME);
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(Ok(n.payload().to_owned())).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    let result = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        tracing::info!("listening for change events");
        if !first {
            // Anything sent while we were away is lost: tell subscribers to re-read.
            let _ = sender.send(Event::Resync);
        }
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Ok(payload)) => {
                        if let Some(event) = Event::parse(&payload) {
                            let _ = sender.send(event);
                        }
                    }
                    Some(Err(e)) => return Err(anyhow::Error::from(e)),
                    None => anyhow::bail!("the listening connection closed"),
                },
                // A periodic round trip notices a dead connection even when nothing is sent.
                () = tokio::time::sleep(Duration::from_secs(30)) => {
                    client.simple_query("SELECT 1").await?;
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let id = Uuid::new_v4();
        for event in [
            Event::FlagsChanged,
            Event::TenantChanged(id),
            Event::JobsQueued,
            Event::Provisioning(42),
            Event::Member(7),
            Event::SeatWarning(id),
        ] {
            assert_eq!(Event::parse(&event.payload()), Some(event));
        }
        assert_eq!(Event::parse("garbage"), None);
        assert_eq!(Event::parse("tenant:nope"), None);
    }
}
