//! Durable tenant provisioning: jobs, workers, steps against the upstream fakes, events and
//! the `provisioningProgress` subscription.

mod access;
mod crash;
mod flow;
mod progress;

use std::time::{Duration, Instant};

use platform_api::config::Config;
use platform_api::upstream::{
    Credentials, HttpSettings, Secret, UpstreamsConfig,
    config::{AuthentikConfig, OcisConfig, StalwartConfig, StripeConfig},
};
use serde_json::{Value, json};

use crate::support::fakes::{self, Fake};
use crate::support::{TestApp, World};

/// All four upstream fakes.
pub struct Stack {
    pub authentik: Fake<fakes::authentik::AuthentikState>,
    pub stalwart: Fake<fakes::stalwart::StalwartState>,
    pub ocis: Fake<fakes::ocis::OcisState>,
    pub stripe: Fake<fakes::stripe::StripeState>,
}

impl Stack {
    pub async fn spawn() -> Self {
        Self {
            authentik: fakes::authentik::spawn().await,
            stalwart: fakes::stalwart::spawn().await,
            ocis: fakes::ocis::spawn().await,
            stripe: fakes::stripe::spawn().await,
        }
    }

    /// Every upstream enabled, pointing at the fakes; no retries inside the adapters, so
    /// every failure reaches the job.
    pub fn config(&self) -> UpstreamsConfig {
        UpstreamsConfig {
            http: HttpSettings {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(10),
                max_retries: 0,
                retry_base: Duration::from_millis(5),
                retry_max: Duration::from_secs(1),
            },
            authentik: Some(AuthentikConfig {
                url: self.authentik.url.parse().unwrap(),
                token: Secret::new(fakes::authentik::TOKEN),
            }),
            stalwart: Some(StalwartConfig {
                url: self.stalwart.url.parse().unwrap(),
                credentials: Credentials::Bearer(Secret::new(fakes::stalwart::API_KEY)),
            }),
            ocis: Some(OcisConfig {
                url: self.ocis.url.parse().unwrap(),
                credentials: Credentials::Bearer(Secret::new(fakes::ocis::TOKEN)),
            }),
            stripe: Some(StripeConfig {
                secret_key: Secret::new(fakes::stripe::SECRET_KEY),
                api_base: self.stripe.url.parse().unwrap(),
            }),
            stripe_webhook_secret: None,
            stripe_publishable_key: Some(fakes::stripe::PUBLISHABLE_KEY.into()),
        }
    }
}

/// Quick job settings for tests: short lease, poll and backoff.
pub fn quick_jobs(config: &mut Config, workers: usize) {
    config.jobs.workers = workers;
    config.jobs.lease = Duration::from_millis(1500);
    config.jobs.poll_interval = Duration::from_millis(100);
    config.jobs.backoff_base = Duration::from_millis(20);
    config.jobs.backoff_max = Duration::from_millis(200);
    config.jobs.max_attempts = 4;
}

/// The operator `root` on `app`.
pub async fn with_root(app: TestApp) -> World {
    World::new().operator("root").build(app).await
}

/// An app with every upstream on the fakes, `workers` quick workers and the operator `root`.
pub async fn app_with(stack: &Stack, workers: usize) -> World {
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        quick_jobs(c, workers);
    })
    .await;
    with_root(app).await
}

pub const STATE: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    status
    provisioning {
      steps { step status attempts lastError upstreamId }
      events(last: 100) { seq step status message terminal }
    }
  }
}"#;

/// The tenant's status and provisioning, as an operator sees it.
pub async fn state(w: &World, slug: &str) -> Value {
    let body = w.query_with("root", STATE, json!({ "slug": slug })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"].clone()
}

/// Polls until `done(state)` or panics after 30 s with the last state.
pub async fn wait_for(app: &World, slug: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = state(app, slug).await;
        if done(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run ended (a terminal event and no open step), then reads the state
/// again: one GraphQL query reads the tenant row and its events in separate statements, so
/// the read that first sees the terminal event may hold the tenant row from just before.
pub async fn settled(app: &World, slug: &str) -> Value {
    wait_for(app, slug, "the run to end", |s| {
        let events = s["provisioning"]["events"].as_array().unwrap();
        events.last().is_some_and(|e| e["terminal"] == true)
            && s["provisioning"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|st| st["status"] != "PENDING" && st["status"] != "RUNNING")
    })
    .await;
    state(app, slug).await
}

/// The status of `step` in a state.
pub fn step<'a>(state: &'a Value, step: &str) -> &'a Value {
    state["provisioning"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == step)
        .unwrap_or_else(|| panic!("no step {step}: {state}"))
}

pub const CREATE_TENANT: &str = r#"
mutation($input: CreateTenantInput!) {
  createTenant(input: $input) { tenant { slug status } }
}"#;

/// Creates a tenant as the operator `root`; returns the response body.
pub async fn create_tenant(w: &World, slug: &str, domain: Option<&str>) -> Value {
    let mut input = json!({ "slug": slug, "name": format!("Tenant {slug}") });
    if let Some(domain) = domain {
        input["primaryDomain"] = json!(domain);
    }
    let body = w
        .query_with("root", CREATE_TENANT, json!({ "input": input }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body
}

/// The sequence numbers of a state's events.
pub fn seqs(state: &Value) -> Vec<i64> {
    state["provisioning"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}
