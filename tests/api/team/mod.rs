//! A partner's self-service (issue 22, acceptance 3): settings, and the team against the
//! Authentik fake — invites are idempotent upstream, the last-admin and self-removal rules
//! hold, and every mutation is allowed, denied (no upstream call) and invalid (nothing
//! written).

mod settings;
mod staff;

use std::time::Duration;

use platform_api::upstream::config::AuthentikConfig;
use platform_api::upstream::{HttpSettings, Secret, UpstreamsConfig};

use crate::support::fakes::{self, Fake};
use crate::support::{Level, Role, Tenant, TestApp, World};

/// Only Authentik enabled, on `authentik`; no retries inside the adapter.
pub fn authentik_only(authentik: &Fake<fakes::authentik::AuthentikState>) -> UpstreamsConfig {
    UpstreamsConfig {
        http: HttpSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_retries: 0,
            retry_base: Duration::from_millis(5),
            retry_max: Duration::from_secs(1),
        },
        authentik: Some(AuthentikConfig {
            url: authentik.url.parse().unwrap(),
            token: Secret::new(fakes::authentik::TOKEN),
        }),
        stalwart: None,
        ocis: None,
        stripe: None,
        stripe_webhook_secret: None,
        stripe_publishable_key: None,
    }
}

/// resell (partner, tenant acme) and other (partner); root = operator, padmin = admin of
/// resell, pstaff = staff member of resell, tadmin = admin of acme, oadmin = admin of other.
pub async fn world(authentik: &Fake<fakes::authentik::AuthentikState>) -> World {
    let upstreams = authentik_only(authentik);
    let app = TestApp::spawn_with(|c| c.upstreams = upstreams).await;
    World::new()
        .partner("resell")
        .partner("other")
        .tenant(Tenant::of("acme", "resell"))
        .operator("root")
        .staff("padmin", "resell", Level::Admin)
        .staff("pstaff", "resell", Level::Member)
        .staff("oadmin", "other", Level::Admin)
        .member("tadmin", "acme", Role::Admin)
        .build(app)
        .await
}
