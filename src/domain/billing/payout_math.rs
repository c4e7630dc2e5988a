//! The arithmetic of the billing ledger, in integer minor units (never floats).
//!
//! **The one rounding rule:** a share of an amount is `amount × margin_bp / 10000` rounded to
//! the nearest minor unit, halves away from zero ([`cut`]). It works on the currency's own minor
//! unit, so zero-decimal (JPY: 1 yen) and three-decimal currencies (KWD: 1 fils) are right
//! without knowing the decimals: the ledger never converts between major and minor units.
//!
//! An invoice's entries keep its partner's cut equal to `cut(net)` of what is left of it: each
//! entry after the payment (a credit note, a void) is `cut(net after) − cut(net before)`
//! ([`delta`]), so partial refunds never drift by a rounding unit. Monthly figures of yearly
//! prices are `yearly / 12` with the same rounding ([`monthly`]).

/// Basis points in a whole (100 %).
pub const WHOLE_BP: i64 = 10_000;

/// `numerator / denominator` rounded to the nearest integer, halves away from zero.
/// `denominator` is positive.
fn div_round(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    }
}

/// The share `margin_bp` (0–10000 = 0–100 %) of `amount_minor`, rounded by the rule.
pub fn cut(amount_minor: i64, margin_bp: i32) -> i64 {
    let exact = i128::from(amount_minor) * i128::from(margin_bp);
    i64::try_from(div_round(exact, i128::from(WHOLE_BP))).expect("a share fits its amount")
}

/// The partner's cut of an entry that moves an invoice's net from `net_before` by `change`:
/// `cut(net_before + change) − cut(net_before)`.
pub fn delta(net_before: i64, change: i64, margin_bp: i32) -> i64 {
    cut(net_before.saturating_add(change), margin_bp) - cut(net_before, margin_bp)
}

/// A price per billing cycle as a monthly figure: monthly as is, yearly `/ 12` by the rule.
pub fn monthly(price_minor: i64, yearly: bool) -> i64 {
    if yearly {
        i64::try_from(div_round(i128::from(price_minor), 12)).expect("smaller than the price")
    } else {
        price_minor
    }
}

/// A margin in percent with up to two decimals (`partners.margin_pct`, e.g. `"12.50"`) as
/// basis points; `None` when it is not one.
pub fn margin_bp(percent: &str) -> Option<i32> {
    let (whole, fraction) = percent
        .trim()
        .split_once('.')
        .unwrap_or((percent.trim(), ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i32 = whole.parse().ok()?;
    let fraction: i32 = format!("{fraction:0<2}").parse().ok()?;
    let bp = whole.checked_mul(100)?.checked_add(fraction)?;
    (0..=10_000).contains(&bp).then_some(bp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Margins of the acceptance: 0 %, 12.5 % and 100 %.
    const ZERO: i32 = 0;
    const TWELVE_AND_A_HALF: i32 = 1250;
    const ALL: i32 = 10_000;

    #[test]
    fn cuts_in_two_decimal_currencies() {
        // 99.99 EUR at 12.5 % = 12.49875 → 12.50 EUR.
        assert_eq!(cut(9999, TWELVE_AND_A_HALF), 1250);
        // 0.04 EUR at 12.5 % = 0.005 → half away from zero: 0.01.
        assert_eq!(cut(4, TWELVE_AND_A_HALF), 1);
        // 0.03 EUR → 0.00375 → 0.00.
        assert_eq!(cut(3, TWELVE_AND_A_HALF), 0);
        assert_eq!(cut(9999, ZERO), 0);
        assert_eq!(cut(9999, ALL), 9999);
    }

    #[test]
    fn cuts_in_zero_decimal_currencies() {
        // 1,001 JPY (minor unit = 1 yen) at 12.5 % = 125.125 → 125 yen, not 1.25 yen.
        assert_eq!(cut(1001, TWELVE_AND_A_HALF), 125);
        // 1,004 JPY → 125.5 → 126.
        assert_eq!(cut(1004, TWELVE_AND_A_HALF), 126);
        assert_eq!(cut(1001, ZERO), 0);
        assert_eq!(cut(1001, ALL), 1001);
    }

    #[test]
    fn cuts_in_three_decimal_currencies() {
        // 5.124 KWD = 5124 fils at 12.5 % = 640.5 fils → 641 fils (0.641 KWD).
        assert_eq!(cut(5124, TWELVE_AND_A_HALF), 641);
        // 5.123 KWD → 640.375 → 640.
        assert_eq!(cut(5123, TWELVE_AND_A_HALF), 640);
        assert_eq!(cut(5124, ZERO), 0);
        assert_eq!(cut(5124, ALL), 5124);
    }

    #[test]
    fn negative_amounts_round_symmetrically() {
        assert_eq!(cut(-4, TWELVE_AND_A_HALF), -1);
        assert_eq!(cut(-5124, TWELVE_AND_A_HALF), -cut(5124, TWELVE_AND_A_HALF));
    }

    #[test]
    fn partial_refunds_never_drift_from_the_cut_of_the_net() {
        for margin in [ZERO, TWELVE_AND_A_HALF, 3333, ALL] {
            for paid in [1, 3, 999, 1001, 5124, 9999, 123_457] {
                let mut net = paid;
                let mut total_cut = cut(paid, margin);
                // Three partial refunds, then the rest.
                for refund in [paid / 3, paid / 7, 1.min(net)] {
                    let refund = refund.min(net);
                    total_cut += delta(net, -refund, margin);
                    net -= refund;
                    assert_eq!(
                        total_cut,
                        cut(net, margin),
                        "{paid} at {margin} after {refund}"
                    );
                }
                total_cut += delta(net, -net, margin);
                assert_eq!(total_cut, 0, "fully refunded {paid} at {margin}");
            }
        }
    }

    #[test]
    fn a_void_takes_back_exactly_what_was_earned() {
        for (paid, margin) in [(9999, TWELVE_AND_A_HALF), (1001, ALL), (5124, ZERO)] {
            let earned = cut(paid, margin);
            assert_eq!(delta(paid, -paid, margin), -earned);
        }
    }

    #[test]
    fn yearly_prices_become_monthly_by_the_same_rule() {
        assert_eq!(monthly(12_000, true), 1000);
        assert_eq!(monthly(1000, true), 83); // 83.33
        assert_eq!(monthly(1010, true), 84); // 84.1666…
        assert_eq!(monthly(1002, true), 84); // 83.5 → away from zero
        assert_eq!(monthly(999, false), 999);
    }

    #[test]
    fn margins_read_as_basis_points() {
        assert_eq!(margin_bp("12.50"), Some(1250));
        assert_eq!(margin_bp("12.5"), Some(1250));
        assert_eq!(margin_bp("0"), Some(0));
        assert_eq!(margin_bp("100.00"), Some(10_000));
        for bad in ["", "-1", "100.01", "1.234", "a", "1.x"] {
            assert_eq!(margin_bp(bad), None, "{bad}");
        }
    }
}
