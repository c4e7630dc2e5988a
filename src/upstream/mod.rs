//! Adapters for the four upstream systems: Authentik (SSO), Stalwart (mail), oCIS (files)
//! and Stripe (billing).
//!
//! Each system has a trait with typed requests, answers and errors (`<system>/mod.rs`) and one
//! reqwest implementation (`<system>/http.rs`) built on the shared [`transport`]: connect and
//! request timeouts, bounded retries with jittered exponential backoff on connect errors, 5xx
//! and 429 (honouring `Retry-After`) for calls that may be repeated, `Idempotency-Key`, and
//! one `tracing` span per call with the system, method, path, status, attempts and latency —
//! never a body, a query string or a credential. An upstream is enabled by configuration;
//! a disabled one is a visible state ([`UpstreamStatus`]), not an error.

pub mod authentik;
mod backoff;
pub mod config;
pub mod error;
pub mod ocis;
mod secret;
pub mod stalwart;
pub mod stripe;
mod transport;

pub use config::{Credentials, HttpSettings, UpstreamsConfig};
pub use error::CallError;
pub use secret::Secret;

/// Whether an upstream is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamStatus {
    /// Configured: calls go to the real system.
    Enabled,
    /// Not configured: work for it is skipped and recorded as skipped.
    Disabled,
}

impl UpstreamStatus {
    /// `"enabled"` or `"disabled"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    /// `Enabled` when `configured`.
    pub const fn of(configured: bool) -> Self {
        if configured {
            Self::Enabled
        } else {
            Self::Disabled
        }
    }
}
