//! Monthly recurring revenue: where the reports read it from.
//!
//! The rules live in the database, once (migration `2026-12-05-010000_mrr_totals`):
//! `subscription_pays(status)` says which statuses count (billing's
//! [`SubscriptionStatus::PAYING`]; a test compares the two) and
//! `subscription_monthly_minor(billing_cycle, price_minor)` a subscription's monthly amount (a
//! yearly price counts a rounded twelfth). Triggers keep `mrr_totals` (paying subscriptions and
//! their MRR per partner, plan and currency) in the transaction of every change, so MRR and
//! revenue by plan read a few rows per partner instead of summing every subscription; only
//! the rankings (top customers and tenants) read the subscriptions.

use crate::domain::billing::SubscriptionStatus;

/// The monthly amount in minor units of the subscription aliased `s`, as SQL (`bigint`): the
/// expression `subscriptions_currency_mrr_idx` is built on, so a ranking by it reads that
/// index in order.
pub const MONTHLY_MINOR: &str = "subscription_monthly_minor(s.billing_cycle, s.price_minor)";

/// The `mrr_totals` rows of a report's scope, as a SQL condition with `$1` the partner (or
/// `NULL` for the platform's: all of them). Two texts rather than `$1 IS NULL OR …`, so that
/// each keeps a plan of its own.
pub fn totals_of(platform: bool) -> &'static str {
    if platform {
        "$1::uuid IS NULL"
    } else {
        "partner_id = $1"
    }
}

/// The statuses whose subscriptions count as revenue (billing's paying statuses).
pub fn paying() -> Vec<&'static str> {
    SubscriptionStatus::PAYING
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// `subscription_monthly_minor` in Rust, for the tests and any caller outside SQL.
pub fn monthly_minor(price_minor: i64, yearly: bool) -> i64 {
    if yearly {
        // Round half away from zero, as PostgreSQL's `round(numeric)` does; integers only.
        let (q, r) = (price_minor / 12, price_minor % 12);
        if r.abs() * 2 >= 12 { q + r.signum() } else { q }
    } else {
        price_minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yearly_prices_count_a_rounded_twelfth() {
        assert_eq!(monthly_minor(1200, true), 100);
        assert_eq!(monthly_minor(1000, true), 83);
        assert_eq!(monthly_minor(1002, true), 84, "83.5 rounds up");
        assert_eq!(monthly_minor(999, false), 999);
    }
}
