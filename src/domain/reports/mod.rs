//! Reports for partners and operators: health cohorts, revenue by plan, top customers and
//! signup/churn cohorts by month, over a period. Each report is one statement (health cohorts:
//! the health area's fixed statements) whatever the number of tenants; money is per currency
//! and never summed across currencies.
//!
//! A partner report is scoped to one partner's tenants ([`Scope::Partner`]); an operator report
//! to the whole platform ([`Scope::Platform`]). Who may ask is checked by the caller.

pub mod mrr;
pub mod queries;
pub mod saved;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::domain::ids::PartnerId;
use crate::error::{AppError, AppResult};

/// The longest period a report covers, in months.
pub const MAX_MONTHS: i32 = 120;

/// Whose figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One partner's tenants.
    Partner(PartnerId),
    /// Every tenant.
    Platform,
}

impl Scope {
    /// The partner, or `None` for the platform (the SQL's `$n IS NULL OR …`).
    pub fn partner(self) -> Option<uuid::Uuid> {
        match self {
            Self::Partner(p) => Some(p.0),
            Self::Platform => None,
        }
    }
}

/// A half-open span `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl Period {
    /// The default: the current month and the eleven before it, up to `now`.
    pub fn default_at(now: DateTime<Utc>) -> Self {
        let (mut year, mut month) = (now.year(), now.month() as i32 - 11);
        if month < 1 {
            month += 12;
            year -= 1;
        }
        let from = Utc
            .with_ymd_and_hms(year, month as u32, 1, 0, 0, 0)
            .single()
            .unwrap_or(now);
        Self { from, to: now }
    }

    /// From the client's bounds (either may be missing: the default's), checked; errors name
    /// `<field>.from`.
    pub fn parse(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        field: &str,
    ) -> AppResult<Self> {
        let default = Self::default_at(now);
        let period = Self {
            from: from.unwrap_or(default.from),
            to: to.unwrap_or(default.to),
        };
        if period.from >= period.to {
            return Err(AppError::bad_input(
                format!("{field}.from"),
                "`from` must be before `to`",
            ));
        }
        let months = (period.to.year() - period.from.year()) * 12
            + (period.to.month() as i32 - period.from.month() as i32);
        if months > MAX_MONTHS {
            return Err(AppError::bad_input(
                format!("{field}.from"),
                format!("a period covers at most {MAX_MONTHS} months"),
            ));
        }
        Ok(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_default_is_twelve_calendar_months() {
        let p = Period::default_at(at(2026, 3, 15));
        assert_eq!(p.from, Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap());
        assert_eq!(p.to, at(2026, 3, 15));
        let p = Period::default_at(at(2026, 12, 1));
        assert_eq!(p.from, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    }

    #[test]
    fn bad_periods_name_the_field() {
        let now = at(2026, 3, 15);
        let err = Period::parse(Some(now), Some(now), now, "period").unwrap_err();
        assert!(matches!(err, AppError::BadUserInput { ref field, .. } if field == "period.from"));
        let long = Period::parse(Some(at(2000, 1, 1)), None, now, "period").unwrap_err();
        assert!(matches!(long, AppError::BadUserInput { ref field, .. } if field == "period.from"));
        assert!(Period::parse(Some(at(2026, 1, 1)), None, now, "period").is_ok());
    }
}
