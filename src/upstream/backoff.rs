//! Retry timing: jittered exponential backoff and `Retry-After`.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use super::config::HttpSettings;

/// The wait before retry number `attempt` (1 = the first retry): exponential from
/// `retry_base`, capped at `retry_max`, then "equal jitter" (a uniform pick in the upper
/// half), so that clients failing together do not retry together.
pub(crate) fn delay(settings: &HttpSettings, attempt: u32) -> Duration {
    let exp = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let capped = exp.min(settings.retry_max);
    let half = capped / 2;
    half + half.mul_f64(random_unit())
}

/// A uniform number in `[0, 1)`, from the standard library's randomly seeded hasher
/// (good enough for jitter; not for anything secret).
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the
/// past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base_ms: u64, max_ms: u64) -> HttpSettings {
        HttpSettings {
            retry_base: Duration::from_millis(base_ms),
            retry_max: Duration::from_millis(max_ms),
            ..HttpSettings::default()
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = settings(100, 1_000);
        for _ in 0..50 {
            let first = delay(&s, 1);
            assert!(
                (50..=100).contains(&(first.as_millis() as u64)),
                "{first:?}"
            );
            let third = delay(&s, 3);
            assert!(
                (200..=400).contains(&(third.as_millis() as u64)),
                "{third:?}"
            );
            let tenth = delay(&s, 10);
            assert!(
                (500..=1_000).contains(&(tenth.as_millis() as u64)),
                "{tenth:?}"
            );
        }
        assert!(delay(&s, 200) <= Duration::from_secs(1), "no overflow");
    }

    #[test]
    fn backoff_is_jittered() {
        let s = settings(1_000, 10_000);
        let picks: std::collections::HashSet<_> = (0..20).map(|_| delay(&s, 2)).collect();
        assert!(picks.len() > 1, "{picks:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
