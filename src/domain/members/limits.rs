//! What a tenant's plan allows its members: seats and quotas.
//!
//! The members area reads them through this one function. Until plans have a catalogue of
//! their own (billing's `limits_for`, same signature and struct), they come from what the
//! database holds today: the seats of the tenant's live subscription, else
//! [`DEFAULT_SEATS_INCLUDED`]; the quotas are the defaults below.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::subscriptions;
use crate::domain::ids::TenantId;
use crate::error::AppResult;

/// Seats of a tenant without a live subscription.
pub const DEFAULT_SEATS_INCLUDED: i32 = 5;
/// Mailbox quota of a member: 5 GiB.
pub const DEFAULT_MAILBOX_QUOTA_BYTES: i64 = 5 * 1024 * 1024 * 1024;
/// Storage quota of a tenant's space: 100 GiB.
pub const DEFAULT_STORAGE_QUOTA_BYTES: i64 = 100 * 1024 * 1024 * 1024;

/// Subscription statuses that still grant seats.
const LIVE: [&str; 3] = ["trialing", "active", "past_due"];

/// A tenant's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Members the tenant may have.
    pub seats_included: i32,
    /// Quota of each member's mailbox.
    pub mailbox_quota_bytes: i64,
    /// Quota of the tenant's file space.
    pub storage_quota_bytes: i64,
}

/// The limits of each of `tenants` (one statement, however many tenants).
pub async fn limits_for(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> AppResult<HashMap<TenantId, PlanLimits>> {
    let seats: Vec<(TenantId, i32)> = if tenants.is_empty() {
        Vec::new()
    } else {
        subscriptions::table
            .filter(subscriptions::tenant_id.eq_any(tenants))
            .filter(subscriptions::status.eq_any(LIVE))
            .select((subscriptions::tenant_id, subscriptions::seats))
            .load(conn)
            .await?
    };
    let seats: HashMap<TenantId, i32> = seats.into_iter().collect();
    Ok(tenants
        .iter()
        .map(|t| {
            (
                *t,
                PlanLimits {
                    seats_included: seats.get(t).copied().unwrap_or(DEFAULT_SEATS_INCLUDED),
                    mailbox_quota_bytes: DEFAULT_MAILBOX_QUOTA_BYTES,
                    storage_quota_bytes: DEFAULT_STORAGE_QUOTA_BYTES,
                },
            )
        })
        .collect())
}

/// How full a tenant's seats are: `(percent, threshold crossed)`, where the threshold is 80
/// or 100 (percent rounded down; no seats and a member counts as 100 %).
pub fn usage(used: i64, included: i32) -> (i32, Option<i32>) {
    let percent = if included <= 0 {
        if used > 0 { 100 } else { 0 }
    } else {
        i32::try_from(used.saturating_mul(100) / i64::from(included)).unwrap_or(i32::MAX)
    };
    let threshold = if percent >= 100 {
        Some(100)
    } else if percent >= 80 {
        Some(80)
    } else {
        None
    };
    (percent, threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_thresholds() {
        assert_eq!(usage(0, 5), (0, None));
        assert_eq!(usage(3, 4), (75, None));
        assert_eq!(usage(4, 5), (80, Some(80)));
        assert_eq!(usage(5, 5), (100, Some(100)));
        assert_eq!(usage(6, 5), (120, Some(100)));
        assert_eq!(usage(1, 0), (100, Some(100)));
    }
}
