//! Currencies: ISO 4217 codes and how many decimals their minor unit has (Stripe's lists of
//! zero- and three-decimal currencies; every other currency has two).

use crate::error::{AppError, AppResult};

/// Stripe's zero-decimal currencies (an amount of 500 JPY is sent as `500`).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Stripe's three-decimal currencies (5.124 KWD is `5124`).
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

impl Currency {
    /// Three ASCII letters (any case) for `field`; stored upper case.
    pub fn parse(raw: &str, field: &str) -> AppResult<Self> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(AppError::bad_input(
                field,
                "a currency is a three-letter ISO 4217 code, e.g. EUR",
            ))
        }
    }

    /// The code, e.g. `EUR`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decimals of the minor unit: 0 (JPY), 3 (KWD) or 2.
    pub fn decimals(&self) -> u32 {
        decimals(&self.0)
    }
}

/// Decimals of the minor unit of `code` (upper case): 0, 2 or 3.
pub fn decimals(code: &str) -> u32 {
    if ZERO_DECIMAL.contains(&code) {
        0
    } else if THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_letters_upper_cased() {
        assert_eq!(Currency::parse(" eur ", "f").unwrap().as_str(), "EUR");
        for bad in ["", "EU", "EURO", "E1R", "€€€"] {
            assert!(Currency::parse(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn minor_units_follow_stripe() {
        assert_eq!(decimals("JPY"), 0);
        assert_eq!(decimals("KWD"), 3);
        assert_eq!(decimals("EUR"), 2);
    }
}
