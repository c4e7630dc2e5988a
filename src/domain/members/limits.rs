//! What a tenant's plan allows its members: seats and quotas.
//!
//! The members area reads them through this one function, billing's
//! [`limits_for`](crate::domain::billing::plans::limits_for): the seats of the tenant's live
//! subscription, else its plan's; the quotas of its plan. The defaults below only stand in for
//! a tenant the catalogue has no answer for (one deleted meanwhile).

/// Seats of a tenant without a live subscription.
pub const DEFAULT_SEATS_INCLUDED: i32 = 5;
/// Mailbox quota of a member: 5 GiB.
pub const DEFAULT_MAILBOX_QUOTA_BYTES: i64 = 5 * 1024 * 1024 * 1024;
/// Storage quota of a tenant's space: 100 GiB.
pub const DEFAULT_STORAGE_QUOTA_BYTES: i64 = 100 * 1024 * 1024 * 1024;

pub use crate::domain::billing::plans::{PlanLimits, limits_for};

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
