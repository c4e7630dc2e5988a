//! `domainStatusChanged`: status changes of a tenant's domains, replayed then live.
//!
//! A [`tail`] of the verifier's `domain.status_changed` audit rows: replayed, then re-read
//! after the last id sent on every notification for the tenant; it does not complete.

use async_graphql::{Context, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::{Stream, StreamExt};

use crate::domain::domains::DomainStatus;
use crate::domain::domains::name::unicode;
use crate::domain::domains::verify::{self, StatusEvent};
use crate::domain::ids::TenantId;
use crate::error::ApiError;
use crate::events::tail::{TailSource, tail};
use crate::events::{Event, EventHub};
use crate::graphql::tenants::followed::{cursor_not_negative, visible_tenant};

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

/// The tenant's `domain.status_changed` audit rows.
struct StatusEvents;

impl TailSource for StatusEvents {
    type Row = StatusEvent;
    type Key = TenantId;
    const NAME: &'static str = "domainStatusChanged";

    fn concerns(event: &Event, key: TenantId) -> bool {
        matches!(event, Event::DomainStatus(t) if *t == key.uuid())
    }
    fn id(row: &StatusEvent) -> i64 {
        row.id
    }
    async fn after(
        conn: &mut AsyncPgConnection,
        key: TenantId,
        after_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<StatusEvent>> {
        verify::status_events_after(conn, key, after_id, limit).await
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
        // Boxed: inline, the setup's state would size the stream for its whole life.
        Box::pin(status_changes(ctx, tenant_slug, after_id)).await
    }
}

/// What `domain_status_changed` resolves to: checks, the first read, and the stream.
async fn status_changes(
    ctx: &Context<'_>,
    tenant_slug: String,
    after_id: i64,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<DomainStatusChange>> + use<>> {
    cursor_not_negative("afterId", after_id)?;
    let (pool, tenant) = visible_tenant(ctx, &tenant_slug).await?;
    let hub = ctx.data_unchecked::<EventHub>();
    let rows = tail::<StatusEvents>(pool, hub, tenant.id, after_id)
        .await
        .map_err(ApiError::from)?;
    Ok(rows.map(|row| {
        row.map(<DomainStatusChange as From<StatusEvent>>::from)
            .map_err(|e| ApiError::from(e).into())
    }))
}
