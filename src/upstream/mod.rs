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
pub mod dns;
pub mod error;
pub mod ocis;
mod secret;
pub mod stalwart;
pub mod stripe;
mod transport;

use std::sync::Arc;

use authentik::AuthentikClient;
use ocis::OcisClient;
use stalwart::StalwartClient;
use stripe::StripeClient;

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

/// The configured clients; `None` for a disabled upstream. The app holds one of these.
pub struct Upstreams {
    /// Authentik, when enabled.
    pub authentik: Option<Arc<dyn AuthentikClient>>,
    /// Stalwart, when enabled.
    pub stalwart: Option<Arc<dyn StalwartClient>>,
    /// oCIS, when enabled.
    pub ocis: Option<Arc<dyn OcisClient>>,
    /// Stripe's API, when enabled.
    pub stripe: Option<Arc<dyn StripeClient>>,
    /// The Stripe webhook signing secret, when set.
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe's publishable key (`pk_…`), when set.
    pub stripe_publishable_key: Option<String>,
}

impl Upstreams {
    /// Builds a reqwest client for every configured upstream (nothing is contacted yet).
    pub fn from_config(config: &UpstreamsConfig) -> Result<Self, reqwest::Error> {
        let http = &config.http;
        Ok(Self {
            authentik: match &config.authentik {
                Some(c) => Some(Arc::new(authentik::HttpAuthentikClient::new(c, http)?)),
                None => None,
            },
            stalwart: match &config.stalwart {
                Some(c) => Some(Arc::new(stalwart::HttpStalwartClient::new(c, http)?)),
                None => None,
            },
            ocis: match &config.ocis {
                Some(c) => Some(Arc::new(ocis::HttpOcisClient::new(c, http)?)),
                None => None,
            },
            stripe: match &config.stripe {
                Some(c) => Some(Arc::new(stripe::HttpStripeClient::new(c, http)?)),
                None => None,
            },
            stripe_webhook_secret: config.stripe_webhook_secret.clone(),
            stripe_publishable_key: config.stripe_publishable_key.clone(),
        })
    }

    /// Each upstream's name and whether it is enabled, in a fixed order.
    pub fn statuses(&self) -> [(&'static str, UpstreamStatus); 4] {
        [
            ("authentik", UpstreamStatus::of(self.authentik.is_some())),
            ("stalwart", UpstreamStatus::of(self.stalwart.is_some())),
            ("ocis", UpstreamStatus::of(self.ocis.is_some())),
            ("stripe", UpstreamStatus::of(self.stripe.is_some())),
        ]
    }

    /// `{"authentik": "enabled" | "disabled", …}` for health endpoints.
    pub fn status_json(&self) -> serde_json::Value {
        self.statuses()
            .into_iter()
            .map(|(name, status)| (name.to_owned(), status.as_str().into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_decides_what_is_enabled() {
        let none = Upstreams::from_config(&UpstreamsConfig::default()).unwrap();
        assert_eq!(
            none.status_json(),
            serde_json::json!({"authentik": "disabled", "stalwart": "disabled",
                               "ocis": "disabled", "stripe": "disabled"})
        );
        let config = UpstreamsConfig {
            stripe: Some(config::StripeConfig {
                secret_key: Secret::new("sk_test_x"),
                api_base: config::STRIPE_API_BASE.parse().unwrap(),
            }),
            ..UpstreamsConfig::default()
        };
        let some = Upstreams::from_config(&config).unwrap();
        assert_eq!(some.statuses()[3], ("stripe", UpstreamStatus::Enabled));
        assert_eq!(some.statuses()[0], ("authentik", UpstreamStatus::Disabled));
    }
}
