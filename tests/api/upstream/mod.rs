//! The upstream adapters, driven over real HTTP against the loopback fakes in
//! `support/fakes`: happy paths, typed errors, timeouts, retries, ensure semantics, and what
//! reaches the logs.

mod authentik;
mod contract;
mod logs;
mod ocis;
mod readyz;
mod stalwart;
mod stripe;
mod stripe_webhook;
mod transport;

use std::time::Duration;

use platform_api::upstream::HttpSettings;

/// Settings for tests: quick backoff, a generous timeout, two retries.
pub fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        max_retries: 2,
        retry_base: Duration::from_millis(5),
        retry_max: Duration::from_secs(2),
    }
}

/// Settings whose request timeout is short, for timeout tests.
pub fn impatient() -> HttpSettings {
    HttpSettings {
        request_timeout: Duration::from_millis(300),
        ..settings()
    }
}

/// How long a delayed fake waits: far beyond [`impatient`]'s timeout.
pub const SLOW: Duration = Duration::from_secs(3);
