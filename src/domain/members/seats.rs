//! Seat warnings as events: each time a tenant's seat usage crosses 80 % or 100 % — up, or
//! back below — one `seat_events` row is appended and NOTIFYed (`seatWarnings` streams them;
//! `Tenant.seatUsage.warning` is the level now). The latest row is the level announced so
//! far, so a crossing is announced once however many members are created beyond it, and
//! again after usage fell back and rose anew.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{create, limits};
use crate::db::schema::seat_events;
use crate::domain::ids::TenantId;
use crate::error::AppResult;
use crate::events::{self, Event};

/// A `seat_events` row.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = seat_events)]
pub struct SeatEventRow {
    /// Global id, increasing.
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// 80 or 100 (percent); 0 when usage fell back below 80 %.
    pub level: i16,
    /// Members the tenant had then.
    pub used: i32,
    /// Seats it had then.
    pub included: i32,
    /// When.
    pub at: DateTime<Utc>,
}

impl SeatEventRow {
    /// `used` as a percentage of `included`, rounded down.
    pub fn percent(&self) -> i32 {
        limits::usage(i64::from(self.used), self.included).0
    }
}

/// Compares the tenant's seat usage now with the level announced last and, when it crossed
/// a threshold, appends the event and NOTIFYs it at commit. Call it inside the transaction
/// that changed the members (or the seats); concurrent calls for one tenant take turns (a
/// transaction-scoped advisory lock), so one crossing is announced once.
pub async fn announce(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> AppResult<Option<SeatEventRow>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('seats:' || $1::text, 0))")
        .bind::<diesel::sql_types::Uuid, _>(tenant)
        .execute(conn)
        .await?;
    let (used, included) = create::seats(conn, tenant).await?;
    let level = limits::usage(used, included).1.unwrap_or(0);
    let last: i16 = seat_events::table
        .filter(seat_events::tenant_id.eq(tenant))
        .order(seat_events::id.desc())
        .select(seat_events::level)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(0);
    if i32::from(last) == level {
        return Ok(None);
    }
    let row: SeatEventRow = diesel::insert_into(seat_events::table)
        .values((
            seat_events::tenant_id.eq(tenant),
            seat_events::level.eq(i16::try_from(level).unwrap_or(100)),
            seat_events::used.eq(i32::try_from(used).unwrap_or(i32::MAX)),
            seat_events::included.eq(included),
        ))
        .returning(SeatEventRow::as_returning())
        .get_result(conn)
        .await?;
    events::notify(conn, &Event::SeatWarning(tenant.uuid())).await?;
    Ok(Some(row))
}

/// The tenant's seat events after `after_id`, oldest first, at most `limit`.
pub async fn events_after(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<SeatEventRow>> {
    seat_events::table
        .filter(seat_events::tenant_id.eq(tenant))
        .filter(seat_events::id.gt(after_id))
        .order(seat_events::id.asc())
        .limit(limit)
        .select(SeatEventRow::as_select())
        .load(conn)
        .await
}
