//! `domainStatusChanged`: status changes of a tenant's domains, replayed then live.
//!
//! The stream listens to the process's event hub *before* it replays from the table (the
//! verifier's `domain.status_changed` audit rows), then re-reads the table after the last id
//! it sent on every notification for the tenant (and after a listener reconnect or a lag): no
//! gap and no duplicate, whichever replica ran the check. It does not complete.

use std::collections::VecDeque;

use async_graphql::{Context, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::domain::domains::DomainStatus;
use crate::domain::domains::name::unicode;
use crate::domain::domains::verify::{self, StatusEvent};
use crate::domain::ids::TenantId;
use crate::error::{ApiError, AppError, AppResult};
use crate::events::{Event, EventHub};

/// Events read from the table per statement.
const PAGE: i64 = 500;

/// A domain's status changed.
#[derive(SimpleObject)]
pub struct DomainStatusChange {
    /// The event's number: increasing per tenant (pass the last one seen as `afterId` to
    /// resume).
    pub id: i64,
    /// The domain (ASCII).
    pub domain: String,
    /// The domain in Unicode.
    pub unicode_domain: String,
    /// The status before.
    pub from: DomainStatus,
    /// The status after.
    pub to: DomainStatus,
    /// When the check that changed it ended.
    pub at: DateTime<Utc>,
}

impl From<StatusEvent> for DomainStatusChange {
    fn from(e: StatusEvent) -> Self {
        Self {
            id: e.id,
            unicode_domain: unicode(&e.domain),
            domain: e.domain,
            from: e.from,
            to: e.to,
            at: e.at,
        }
    }
}

/// Domain subscriptions.
#[derive(Default)]
pub struct DomainSubscription;

struct Changes {
    pool: DbPool,
    tenant: TenantId,
    hub: broadcast::Receiver<Event>,
    last: i64,
    queue: VecDeque<StatusEvent>,
    failed: bool,
}

impl Changes {
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut conn = self.pool.get().await?;
        loop {
            let rows = verify::status_events_after(&mut conn, self.tenant, self.last, PAGE).await?;
            let full = rows.len() as i64 == PAGE;
            for row in rows {
                self.last = row.id;
                self.queue.push_back(row);
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn next(mut self) -> Option<(async_graphql::Result<DomainStatusChange>, Self)> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some((Ok(row.into()), self));
            }
            if self.failed {
                return None;
            }
            match self.hub.recv().await {
                Ok(Event::DomainStatus(t)) if t == self.tenant.uuid() => {}
                Ok(Event::Resync) | Err(RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return None,
            }
            if let Err(e) = self.catch_up().await {
                tracing::error!(error = %e, "domainStatusChanged could not re-read events");
                self.failed = true;
                return Some((Err(ApiError::from(e).into()), self));
            }
        }
    }
}

#[Subscription]
impl DomainSubscription {
    /// Status changes of a tenant's domains (by the scheduled checks and `recheckDomain`):
    /// first every stored change after `afterId`, then live ones, in order, with no gap and
    /// no duplicate, whichever server ran the check. Visible like `tenant(slug)`.
    async fn domain_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant_slug: String,
        #[graphql(
            desc = "Send only changes after this event id (default 0: from the start).",
            default = 0
        )]
        after_id: i64,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DomainStatusChange>> + use<>>
    {
        if after_id < 0 {
            return Err(
                ApiError::from(AppError::bad_input("afterId", "must not be negative")).into(),
            );
        }
        let viewer = ctx.viewer().await?;
        let pool = ctx.data_unchecked::<DbPool>().clone();
        // Listen before reading the table, so nothing falls in between.
        let hub = ctx.data_unchecked::<EventHub>().subscribe();
        let tenant = {
            let mut conn = pool.get().await.map_err(ApiError::from)?;
            domain::tenants::visible_by_slug(&mut conn, &viewer, &tenant_slug)
                .await
                .map_err(ApiError::from)?
        };
        let mut changes = Changes {
            pool,
            tenant: tenant.id,
            hub,
            last: after_id,
            queue: VecDeque::new(),
            failed: false,
        };
        changes.catch_up().await.map_err(ApiError::from)?;
        Ok(futures_util::stream::unfold(changes, Changes::next))
    }
}
