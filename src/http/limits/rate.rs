//! Request rate limits (GCRA, through `governor`): per client IP for anonymous callers, per
//! user for signed-in ones, and a stricter one for mutations. Each GraphQL operation
//! counts once (a batch of 10 counts 10), and an expensive one once more per
//! `RATE_LIMIT_COST_UNIT` of complexity above the first ([`extra_for_cost`]);
//! [`crate::graphql::rate_limit`] applies them.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_graphql::{BatchResponse, Response, Value};
use axum::http::{HeaderValue, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ErrorCode;
use crate::http::limits::config::{LimitsConfig, Rate};

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// No valid token: the client address.
    Ip(IpAddr),
    /// A verified token: issuer and subject.
    User(String),
}

/// The limiters of one process.
pub struct RateLimits {
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    users: DefaultKeyedRateLimiter<String>,
    mutations: DefaultKeyedRateLimiter<Caller>,
    clock: DefaultClock,
    /// The longest period of the per-caller limits (the wait told for an impossible charge).
    period: Duration,
    checks: AtomicU64,
}

/// Forget idle keys after this many checks, so the maps stay bounded.
const SWEEP_EVERY: u64 = 10_000;

fn quota(rate: Rate) -> Quota {
    let count = NonZeroU32::new(rate.count.max(1)).unwrap_or(NonZeroU32::MIN);
    let every = rate.period / count.get();
    Quota::with_period(every.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count)
}

impl RateLimits {
    /// Limiters with the configured rates.
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            anonymous: governor::RateLimiter::keyed(quota(config.anonymous)),
            users: governor::RateLimiter::keyed(quota(config.user)),
            mutations: governor::RateLimiter::keyed(quota(config.mutations)),
            clock: DefaultClock::default(),
            period: config.anonymous.period.max(config.user.period),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one operation; `Err(wait)` when it is over a limit, with the time until one
    /// would be allowed.
    pub fn check(&self, caller: &Caller, mutation: bool) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.anonymous.retain_recent();
            self.users.retain_recent();
            self.mutations.retain_recent();
        }
        let now = self.clock.now();
        let wait = |n: governor::NotUntil<_>| n.wait_time_from(now);
        match caller {
            Caller::Ip(ip) => self.anonymous.check_key(ip).map_err(wait)?,
            Caller::User(user) => self.users.check_key(user).map_err(wait)?,
        }
        if mutation {
            self.mutations.check_key(caller).map_err(wait)?;
        }
        Ok(())
    }

    /// Charges `extra` more operations to the caller's limit (an expensive operation, see
    /// [`extra_for_cost`]); `Err(wait)` when the allowance does not hold them now. More than
    /// the whole allowance at once can never pass: the wait is then a full period.
    pub fn charge(&self, caller: &Caller, extra: u32) -> Result<(), Duration> {
        let Some(n) = NonZeroU32::new(extra) else {
            return Ok(());
        };
        let now = self.clock.now();
        let outcome = match caller {
            Caller::Ip(ip) => self.anonymous.check_key_n(ip, n),
            Caller::User(user) => self.users.check_key_n(user, n),
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(now)),
            Err(governor::InsufficientCapacity(_)) => Err(self.period),
        }
    }
}

/// Operations an operation of `complexity` counts for beyond the one it already counted:
/// one per whole `unit` of complexity above the first (`RATE_LIMIT_COST_UNIT`).
pub fn extra_for_cost(complexity: usize, unit: u32) -> u32 {
    let unit = usize::try_from(unit.max(1)).unwrap_or(usize::MAX);
    u32::try_from(complexity.saturating_sub(1) / unit).unwrap_or(u32::MAX)
}

/// Whole seconds a client should wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

fn rate_limited_secs(response: &Response) -> Option<u64> {
    if response.data != Value::Null || response.errors.is_empty() {
        return None;
    }
    response
        .errors
        .iter()
        .map(|e| {
            let ext = e.extensions.as_ref()?;
            match (ext.get("code"), ext.get("retryAfterSeconds")) {
                (Some(Value::String(code)), Some(Value::Number(secs)))
                    if code == ErrorCode::RateLimited.as_str() =>
                {
                    secs.as_u64()
                }
                _ => None,
            }
        })
        .try_fold(0u64, |max, secs| secs.map(|s| max.max(s)))
}

/// When every operation of the response was refused by a rate limit: the HTTP status 429
/// and the `Retry-After` to send, the longest wait among them.
pub fn too_many_requests(response: &BatchResponse) -> Option<u64> {
    match response {
        BatchResponse::Single(r) => rate_limited_secs(r),
        BatchResponse::Batch(rs) => rs
            .iter()
            .map(rate_limited_secs)
            .try_fold(0u64, |max, secs| secs.map(|s| max.max(s))),
    }
}

/// Turns `reply` into a 429 with `Retry-After` when every operation was rate limited.
pub fn mark(response: &BatchResponse, reply: &mut axum::response::Response) {
    if let Some(secs) = too_many_requests(response) {
        *reply.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
            reply.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_per_caller_and_mutations_are_stricter() {
        let limits = RateLimits::new(&LimitsConfig {
            anonymous: Rate::per_minute(2),
            user: Rate::per_minute(3),
            mutations: Rate::per_minute(1),
            trusted_proxies: vec![],
            cost_unit: 100,
        });
        let a = Caller::Ip("192.0.2.1".parse().unwrap());
        let b = Caller::Ip("192.0.2.2".parse().unwrap());
        assert!(limits.check(&a, false).is_ok());
        assert!(limits.check(&a, false).is_ok());
        let wait = limits.check(&a, false).unwrap_err();
        assert!(
            wait <= Duration::from_secs(30) && wait > Duration::from_secs(25),
            "{wait:?}"
        );
        assert!(
            limits.check(&b, false).is_ok(),
            "another address is unaffected"
        );
        let u = Caller::User("iss|alice".into());
        assert!(limits.check(&u, true).is_ok());
        assert!(limits.check(&u, true).is_err(), "one mutation per minute");
        assert!(limits.check(&u, false).is_ok(), "queries still pass");
    }

    #[test]
    fn expensive_operations_count_more() {
        assert_eq!(extra_for_cost(1, 100), 0);
        assert_eq!(extra_for_cost(100, 100), 0);
        assert_eq!(extra_for_cost(101, 100), 1);
        assert_eq!(extra_for_cost(1000, 100), 9);
        assert_eq!(extra_for_cost(0, 0), 0);
        let limits = RateLimits::new(&LimitsConfig {
            user: Rate::per_minute(10),
            ..LimitsConfig::default()
        });
        let u = Caller::User("iss|bob".into());
        assert!(limits.check(&u, false).is_ok());
        assert!(limits.charge(&u, 8).is_ok(), "1 + 8 of 10");
        assert!(limits.charge(&u, 2).is_err(), "only one left");
        assert!(limits.check(&u, false).is_ok(), "the last one");
        assert!(limits.check(&u, false).is_err());
        let wait = limits
            .charge(&Caller::User("iss|eve".into()), 11)
            .unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(60),
            "more than the allowance never passes"
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
