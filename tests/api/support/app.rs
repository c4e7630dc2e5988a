//! The app under test: built by the production `Application::build`, served on a loopback
//! port, driven with a real HTTP client.

use std::net::SocketAddr;

use platform_api::app::{AppState, Application};
use platform_api::config::Config;
use serde_json::{Value, json};

use super::logs;
use super::postgres::TestDb;

/// A running server with a database of its own.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (metrics, pool, shutdown token).
    pub state: AppState,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// Its database; the last field, so it drops after everything that uses it.
    pub db: TestDb,
}

impl TestApp {
    /// A server with the default (development) configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(TestDb::create().await, adjust).await
    }

    /// A second server process on this one's database (another replica).
    pub async fn spawn_sibling(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(self.db.shared(), adjust).await
    }

    async fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        logs::install();
        let mut config = Config::from_lookup(|_| None).expect("default config");
        config.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        // One development key per test process, outside the repository.
        config.data_dir = super::teardown::data_dir();
        super::teardown::register();
        config.database.url = Some(db.url().to_owned());
        // No job workers unless a test asks for them: background work would make statement
        // counts and "nothing changed" fingerprints depend on timing.
        config.jobs.workers = 0;
        // The domain verifier never asks public resolvers from a test: a port nothing listens
        // on, unless the test points it at its loopback DNS server.
        config.domains.dns.resolvers = vec![SocketAddr::from(([127, 0, 0, 1], 9))];
        config.domains.dns.timeout = std::time::Duration::from_millis(200);
        adjust(&mut config);
        let url = config.database.url.clone().expect("a database url");
        let app = Application::build(config, &url)
            .await
            .expect("build the app");
        let addr = app.local_addr();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        Self {
            addr,
            state,
            client: reqwest::Client::new(),
            db,
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a JSON body to `/graphql`.
    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .json(body)
            .send()
            .await
            .expect("POST /graphql")
    }

    /// Runs a query over POST and returns the response body.
    pub async fn graphql(&self, query: &str) -> Value {
        self.graphql_with(query, json!({})).await
    }

    /// Runs a query with variables over POST and returns the response body.
    pub async fn graphql_with(&self, query: &str, variables: Value) -> Value {
        let response = self
            .post(&json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(response.status(), 200, "POST /graphql status");
        response.json().await.expect("JSON body")
    }

    /// Runs a query as the bearer of `token` and returns the response body.
    pub async fn graphql_as(&self, token: &str, query: &str) -> Value {
        self.graphql_as_with(token, query, json!({})).await
    }

    /// Runs a query with variables as the bearer of `token`.
    pub async fn graphql_as_with(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql");
        assert_eq!(response.status(), 200, "POST /graphql status");
        response.json().await.expect("JSON body")
    }

    /// SQL statements this app has sent so far.
    pub fn statements(&self) -> u64 {
        self.state.metrics.db_statements()
    }

    /// GraphQL operations this app has executed so far, of every kind.
    pub fn operations(&self) -> u64 {
        use platform_api::metrics::OperationKind::*;
        [Query, Mutation, Subscription, Invalid]
            .into_iter()
            .map(|k| self.state.metrics.operations(k))
            .sum()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// The `extensions.code` of the first error.
pub fn first_error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}
