//! Monthly recurring revenue of a subscription, in one place: the SQL expression every report
//! sums. A yearly price counts as a twelfth, rounded to the nearest minor unit; a monthly
//! price as itself. (Billing keeps its own normalisation helper; point [`MONTHLY_MINOR`] at
//! it when the two meet.)

use std::sync::LazyLock;

use crate::domain::billing::{BillingCycle, SubscriptionStatus};

/// The monthly amount in minor units of the subscription aliased `s`, as SQL (`bigint`).
/// Integer arithmetic: `(p + 6) / 12` is `round(p / 12.0)` for the non-negative prices the
/// table allows (`subscriptions_price_minor_nonnegative`), without a `numeric` per row.
pub static MONTHLY_MINOR: LazyLock<String> = LazyLock::new(|| {
    format!(
        "(CASE s.billing_cycle WHEN '{}' THEN (s.price_minor + 6) / 12 ELSE s.price_minor END)::bigint",
        BillingCycle::Yearly
    )
});

/// The paying subscriptions aliased `s` of a report's scope, as a SQL `FROM … WHERE …` with
/// `$1` the paying statuses and `$2` the partner (or `NULL`). The platform's reads the
/// subscriptions alone; a partner's joins its tenants (aliased `t`).
pub fn paying_subscriptions(platform: bool) -> &'static str {
    if platform {
        "subscriptions s WHERE s.status = ANY($1) AND $2::uuid IS NULL"
    } else {
        "subscriptions s JOIN tenants t ON t.id = s.tenant_id
          WHERE s.status = ANY($1) AND t.partner_id = $2"
    }
}

/// The statuses whose subscriptions count as revenue (billing's paying statuses).
pub fn paying() -> Vec<&'static str> {
    SubscriptionStatus::PAYING
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// [`MONTHLY_MINOR`] in Rust, for the tests and any caller outside SQL.
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
