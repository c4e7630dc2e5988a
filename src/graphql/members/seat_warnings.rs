//! `seatWarnings`: a tenant's seat usage crossing 80 % or 100 % (or falling back below),
//! replayed then live, as a [`tail`] of its `seat_events`.

use async_graphql::{Context, SimpleObject};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::{Stream, StreamExt};

use crate::domain::ids::TenantId;
use crate::domain::members::seats::{self, SeatEventRow};
use crate::error::ApiError;
use crate::events::tail::{TailSource, tail};
use crate::events::{Event, EventHub};
use crate::graphql::tenants::followed::{cursor_not_negative, visible_tenant};

/// A tenant's seat usage crossed a warning threshold.
#[derive(SimpleObject)]
pub struct SeatWarning {
    /// The event's number, increasing (pass the last one seen as `afterId` to resume).
    pub id: i64,
    /// The threshold reached: 80 or 100 (percent); null when usage fell back below 80 %.
    pub threshold: Option<i32>,
    /// Members the tenant had then.
    pub used: i32,
    /// Seats it had then.
    pub included: i32,
    /// `used` as a percentage of `included`, rounded down.
    pub percent: i32,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<SeatEventRow> for SeatWarning {
    fn from(row: SeatEventRow) -> Self {
        Self {
            id: row.id,
            threshold: (row.level > 0).then_some(i32::from(row.level)),
            used: row.used,
            included: row.included,
            percent: row.percent(),
            at: row.at,
        }
    }
}

/// The tenant's `seat_events`.
struct SeatEvents;

impl TailSource for SeatEvents {
    type Row = SeatEventRow;
    type Key = TenantId;
    const NAME: &'static str = "seatWarnings";

    fn concerns(event: &Event, key: TenantId) -> bool {
        matches!(event, Event::SeatWarning(t) if *t == key.uuid())
    }
    fn id(row: &SeatEventRow) -> i64 {
        row.id
    }
    async fn after(
        conn: &mut AsyncPgConnection,
        key: TenantId,
        after_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<SeatEventRow>> {
        seats::events_after(conn, key, after_id, limit).await
    }
}

/// The `seatWarnings` stream of the tenant `slug`, after `after_id`.
pub async fn stream(
    ctx: &Context<'_>,
    slug: &str,
    after_id: i64,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SeatWarning>> + use<>> {
    cursor_not_negative("afterId", after_id)?;
    let (pool, tenant) = visible_tenant(ctx, slug).await?;
    let hub = ctx.data_unchecked::<EventHub>();
    let rows = tail::<SeatEvents>(pool, hub, tenant.id, after_id)
        .await
        .map_err(ApiError::from)?;
    Ok(rows.map(|row| {
        row.map(SeatWarning::from)
            .map_err(|e| ApiError::from(e).into())
    }))
}
