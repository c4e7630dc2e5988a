//! Typed configuration, loaded once from the environment and passed explicitly.
//!
//! Every variable read here is listed in `.env.example` with its default. Nothing in the
//! crate reads the environment after [`Config::from_env`] returns.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::upstream::UpstreamsConfig;

/// The deployment environment: development enables conveniences that production refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development (the default).
    Development,
    /// A real deployment: introspection off by default, no development conveniences.
    Production,
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line, with the request id of the enclosing span.
    Json,
}

/// Limits enforced on every GraphQL request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// Largest accepted request body in bytes (larger → HTTP 413).
    pub max_body_bytes: usize,
    /// Most operations in one batched request (more → HTTP 400 before anything runs).
    pub max_batch: usize,
    /// Deepest selection set accepted.
    pub max_depth: usize,
    /// Highest complexity accepted (each field costs 1 unless it declares otherwise).
    pub max_complexity: usize,
    /// Deepest recursion the parser accepts (guards the parser itself).
    pub max_recursive_depth: usize,
    /// Most selections a document may hold once its fragment spreads are expanded
    /// (checked in linear time before validation; guards against fragment bombs).
    pub max_selections: u64,
    /// Page size used when a connection gets neither `first` nor `last`.
    pub default_page_size: usize,
    /// Largest `first`/`last` accepted on a connection (more → `BAD_USER_INPUT`).
    pub max_page_size: usize,
    /// Whether introspection (and field suggestions) are answered.
    pub introspection: bool,
    /// Longest time one HTTP GraphQL request may execute (`REQUEST_TIMEOUT_MS`); past it the
    /// work is dropped, its statements cancelled, and the answer is `SERVICE_UNAVAILABLE`.
    pub request_timeout: Duration,
}

impl GraphqlLimits {
    /// The defaults for an environment: introspection is on only in development.
    pub fn defaults(env: AppEnv) -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch: 10,
            max_depth: 12,
            max_complexity: 1000,
            max_recursive_depth: 32,
            max_selections: 5000,
            default_page_size: 20,
            max_page_size: 100,
            introspection: env == AppEnv::Development,
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`; `None` starts the embedded cluster under `DATA_DIR/postgres`.
    pub url: Option<String>,
    /// Most connections the pool keeps open.
    pub pool_size: usize,
    /// Server-side `statement_timeout` set on every pooled connection.
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection before `SERVICE_UNAVAILABLE`.
    pub pool_wait_timeout: Duration,
    /// Requests already waiting for a connection beyond which a new request is refused at
    /// once (503, `Retry-After`) instead of queueing (`DATABASE_POOL_MAX_WAITING`).
    pub pool_max_waiting: usize,
}

/// WebSocket (`graphql-transport-ws`) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// `WS_INIT_TIMEOUT_MS`: how long a client may take to send `connection_init` before the
    /// socket is closed with 4408.
    pub init_timeout: Duration,
    /// `WS_SEND_TIMEOUT_MS`: how long one outgoing message may wait for the client to take it
    /// before the socket is closed as a slow consumer (1008) and its operations stop.
    pub send_timeout: Duration,
}

/// Token verification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `AUTH_ISSUERS`: trusted issuers (exact `iss` values). Empty = the development issuer
    /// (refused in production).
    pub issuers: Vec<String>,
    /// `AUTH_PORTAL_AUDIENCE`: the customer portal's client id.
    pub portal_audience: String,
    /// `AUTH_OPERATOR_AUDIENCE`: the operator console's client id.
    pub operator_audience: String,
    /// `AUTH_AUDIENCES`: every accepted `aud` (defaults to the portal and operator audiences).
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`/`nbf` (at most 60 s).
    pub leeway: Duration,
    /// How long fetched signing keys are trusted before a background refresh.
    pub jwks_max_age: Duration,
    /// Least time between two key fetches caused by unknown `kid`s.
    pub jwks_refetch_cooldown: Duration,
    /// Timeout of one discovery or JWKS fetch (at most 5 s).
    pub fetch_timeout: Duration,
    /// `AUTH_TOKEN_CACHE_CAPACITY`: verified tokens remembered (0 = verify every time).
    pub token_cache_capacity: u64,
    /// `AUTH_ADMIN_GROUP`: the identity-provider group that grants `platform_admin` on `me`.
    pub admin_group: String,
    /// `IMPERSONATION_MAX_TTL`: the longest impersonation session (and token) an operator may
    /// ask for; also the default lifetime.
    pub impersonation_max_ttl: Duration,
    /// `IMPERSONATION_KEY_ROTATION`: how long one impersonation signing key signs before the
    /// process makes a new one.
    pub impersonation_key_rotation: Duration,
}

impl AuthConfig {
    /// Whether the server signs and trusts its own development tokens.
    pub fn uses_dev_issuer(&self) -> bool {
        self.issuers.is_empty()
    }
}

/// The whole configuration of one server process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind_addr: SocketAddr,
    /// Directory for local state (embedded PostgreSQL cluster, development keys).
    pub data_dir: PathBuf,
    /// Development or production.
    pub app_env: AppEnv,
    /// `PLATFORM_API_SECRET_KEY`: the AES-256-GCM key (32 bytes, hex or base64) that seals
    /// one-time passwords while jobs carry them. Unset in development: a key generated under
    /// `DATA_DIR`; required in production.
    pub secret_key: Option<crate::upstream::Secret>,
    /// Log format.
    pub log_format: LogFormat,
    /// `RUNTIME_EVENT_INTERVAL`: how many tasks a runtime thread polls before it checks for
    /// I/O and timer events again (tokio's `event_interval`; its default is 61). Lower
    /// values answer sockets sooner when many tasks are ready at once (a burst of events to
    /// thousands of WebSockets), at the cost of more `epoll` calls.
    pub runtime_event_interval: u32,
    /// Database settings.
    pub database: DatabaseConfig,
    /// GraphQL request limits.
    pub graphql: GraphqlLimits,
    /// Token verification.
    pub auth: AuthConfig,
    /// WebSocket timeouts.
    pub websocket: WebSocketConfig,
    /// How long graceful shutdown waits for in-flight HTTP requests, and then for WebSocket
    /// connections to close, before dropping them.
    pub shutdown_grace: Duration,
    /// Authentik, Stalwart, oCIS and Stripe: each enabled by its variables.
    pub upstreams: UpstreamsConfig,
    /// The job workers of this process.
    pub jobs: crate::jobs::JobsConfig,
    /// Request rate limits and trusted proxies.
    pub limits: crate::http::limits::LimitsConfig,
    /// Domain verification: resolvers, recheck interval, hysteresis.
    pub domains: crate::jobs::domains::DomainsConfig,
    /// Self-service workspaces and the default tenant.
    pub workspaces: crate::domain::tenants::workspace::WorkspacesConfig,
    /// The GeoIP database and the security area's upstream caches.
    pub security: crate::domain::security::config::SecurityConfig,
}

/// A variable that is set but cannot be understood.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The variable's name.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&get);
        let app_env = match env.get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => return Err(invalid("APP_ENV", other, "development or production")),
        };
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(invalid("LOG_FORMAT", other, "pretty or json")),
        };
        let mut graphql = GraphqlLimits::defaults(app_env);
        graphql.max_body_bytes = env.parsed("GRAPHQL_MAX_BODY_BYTES", graphql.max_body_bytes)?;
        graphql.max_batch = env.parsed("GRAPHQL_MAX_BATCH", graphql.max_batch)?;
        graphql.max_depth = env.parsed("GRAPHQL_MAX_DEPTH", graphql.max_depth)?;
        graphql.max_complexity = env.parsed("GRAPHQL_MAX_COMPLEXITY", graphql.max_complexity)?;
        graphql.max_recursive_depth =
            env.parsed("GRAPHQL_MAX_RECURSIVE_DEPTH", graphql.max_recursive_depth)?;
        graphql.max_selections = env.parsed("GRAPHQL_MAX_SELECTIONS", graphql.max_selections)?;
        graphql.default_page_size =
            env.parsed("GRAPHQL_DEFAULT_PAGE_SIZE", graphql.default_page_size)?;
        graphql.max_page_size = env.parsed("GRAPHQL_MAX_PAGE_SIZE", graphql.max_page_size)?;
        graphql.introspection = env.parsed("GRAPHQL_INTROSPECTION", graphql.introspection)?;
        graphql.request_timeout = positive_ms(&env, "REQUEST_TIMEOUT_MS", 15_000)?;
        if graphql.default_page_size == 0 || graphql.default_page_size > graphql.max_page_size {
            return Err(ConfigError {
                name: "GRAPHQL_DEFAULT_PAGE_SIZE",
                message: "must be between 1 and GRAPHQL_MAX_PAGE_SIZE".into(),
            });
        }
        let pool_size = env.parsed("DATABASE_POOL_SIZE", 10usize)?;
        if pool_size == 0 {
            return Err(invalid("DATABASE_POOL_SIZE", "0", "at least 1"));
        }
        let auth = auth_config(&env)?;
        if app_env == AppEnv::Production && auth.uses_dev_issuer() {
            return Err(ConfigError {
                name: "AUTH_ISSUERS",
                message: "production needs real issuers; the development issuer is refused".into(),
            });
        }
        let secret_key = env
            .get("PLATFORM_API_SECRET_KEY")
            .map(crate::upstream::Secret::new);
        match &secret_key {
            Some(key) if crate::domain::members::sealing::parse_key(key.expose()).is_none() => {
                return Err(ConfigError {
                    name: "PLATFORM_API_SECRET_KEY",
                    message: "must be 32 bytes written as 64 hex digits or base64".into(),
                });
            }
            None if app_env == AppEnv::Production => {
                return Err(ConfigError {
                    name: "PLATFORM_API_SECRET_KEY",
                    message: "production needs a key; the development key is refused".into(),
                });
            }
            _ => {}
        }
        let runtime_event_interval = env.parsed("RUNTIME_EVENT_INTERVAL", 61u32)?;
        if runtime_event_interval == 0 {
            return Err(invalid("RUNTIME_EVENT_INTERVAL", "0", "at least 1"));
        }
        let websocket = WebSocketConfig {
            init_timeout: positive_ms(&env, "WS_INIT_TIMEOUT_MS", 10_000)?,
            send_timeout: positive_ms(&env, "WS_SEND_TIMEOUT_MS", 10_000)?,
        };
        Ok(Self {
            auth,
            websocket,
            bind_addr: env.parsed("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            data_dir: env
                .get("DATA_DIR")
                .map_or_else(|| ".data".into(), PathBuf::from),
            app_env,
            secret_key,
            log_format,
            runtime_event_interval,
            database: DatabaseConfig {
                url: env.get("DATABASE_URL"),
                pool_size,
                statement_timeout: Duration::from_millis(
                    env.parsed("STATEMENT_TIMEOUT_MS", 5_000u64)?,
                ),
                pool_wait_timeout: Duration::from_millis(
                    env.parsed("DATABASE_POOL_WAIT_MS", 2_000u64)?,
                ),
                pool_max_waiting: env.parsed("DATABASE_POOL_MAX_WAITING", pool_size * 4)?,
            },
            graphql,
            shutdown_grace: Duration::from_millis(env.parsed("SHUTDOWN_GRACE_MS", 8_000u64)?),
            upstreams: UpstreamsConfig::from_lookup(&|name: &str| env.get(name))?,
            jobs: crate::jobs::JobsConfig::from_lookup(&|name: &str| env.get(name))?,
            limits: crate::http::limits::LimitsConfig::from_lookup(&|name: &str| env.get(name))?,
            domains: crate::jobs::domains::DomainsConfig::from_lookup(&|name: &str| env.get(name))?,
            workspaces: crate::domain::tenants::workspace::WorkspacesConfig::from_lookup(
                &|name: &str| env.get(name),
                app_env,
            )?,
            security: crate::domain::security::config::SecurityConfig::from_lookup(
                &|name: &str| env.get(name),
            )?,
        })
    }
}

fn auth_config<F: Fn(&str) -> Option<String>>(env: &Env<'_, F>) -> Result<AuthConfig, ConfigError> {
    let list = |name: &str| -> Vec<String> {
        env.get(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let portal_audience = env
        .get("AUTH_PORTAL_AUDIENCE")
        .unwrap_or_else(|| "dezky-portal".into());
    let operator_audience = env
        .get("AUTH_OPERATOR_AUDIENCE")
        .unwrap_or_else(|| "dezky-operator".into());
    let mut audiences = list("AUTH_AUDIENCES");
    if audiences.is_empty() {
        audiences = vec![portal_audience.clone(), operator_audience.clone()];
    }
    let issuers = list("AUTH_ISSUERS");
    for issuer in &issuers {
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(invalid("AUTH_ISSUERS", issuer, "absolute http(s) URLs"));
        }
    }
    let leeway = env.parsed("AUTH_LEEWAY_SECS", 30u64)?;
    if leeway > 60 {
        return Err(invalid(
            "AUTH_LEEWAY_SECS",
            &leeway.to_string(),
            "at most 60",
        ));
    }
    let fetch_timeout = env.parsed("AUTH_FETCH_TIMEOUT_MS", 5_000u64)?;
    if fetch_timeout == 0 || fetch_timeout > 5_000 {
        return Err(invalid(
            "AUTH_FETCH_TIMEOUT_MS",
            &fetch_timeout.to_string(),
            "1 to 5000",
        ));
    }
    Ok(AuthConfig {
        issuers,
        portal_audience,
        operator_audience,
        audiences,
        leeway: Duration::from_secs(leeway),
        jwks_max_age: Duration::from_secs(env.parsed("AUTH_JWKS_MAX_AGE_SECS", 3_600u64)?),
        jwks_refetch_cooldown: Duration::from_secs(
            env.parsed("AUTH_JWKS_REFETCH_COOLDOWN_SECS", 30u64)?,
        ),
        fetch_timeout: Duration::from_millis(fetch_timeout),
        token_cache_capacity: env.parsed("AUTH_TOKEN_CACHE_CAPACITY", 10_000u64)?,
        admin_group: env
            .get("AUTH_ADMIN_GROUP")
            .unwrap_or_else(|| "dezky-platform-admins".into()),
        impersonation_max_ttl: lifetime(env, "IMPERSONATION_MAX_TTL", "30m")?,
        impersonation_key_rotation: lifetime(env, "IMPERSONATION_KEY_ROTATION", "24h")?,
    })
}

/// A lifetime such as `90s`, `30m`, `24h` or `2d`.
fn lifetime<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    name: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    let raw = env.get(name).unwrap_or_else(|| default.to_owned());
    crate::auth::dev_issuer::parse_ttl(&raw).map_err(|message| ConfigError { name, message })
}

/// A duration in milliseconds that must be at least 1.
fn positive_ms<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let ms = env.parsed(name, default)?;
    if ms == 0 {
        return Err(invalid(name, "0", "at least 1"));
    }
    Ok(Duration::from_millis(ms))
}

/// Variable access that treats empty values as unset.
struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parsed<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
                name,
                message: format!("cannot parse {raw:?}: {e}"),
            }),
        }
    }
}

fn invalid(name: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        name,
        message: format!("{value:?} is not valid; expected {expected}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn impersonation_lifetimes_default_and_parse() {
        let c = load(&[]).unwrap();
        assert_eq!(c.auth.impersonation_max_ttl, Duration::from_secs(1800));
        assert_eq!(
            c.auth.impersonation_key_rotation,
            Duration::from_secs(86_400)
        );
        let c = load(&[("IMPERSONATION_MAX_TTL", "15m")]).unwrap();
        assert_eq!(c.auth.impersonation_max_ttl, Duration::from_secs(900));
        for bad in ["0m", "soon", "1w"] {
            let e = load(&[("IMPERSONATION_MAX_TTL", bad)]).unwrap_err();
            assert_eq!(e.name, "IMPERSONATION_MAX_TTL", "{bad}");
        }
    }

    #[test]
    fn defaults_need_no_variables() {
        let c = load(&[]).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from(".data"));
        assert_eq!(c.app_env, AppEnv::Development);
        assert!(c.database.url.is_none());
        assert_eq!(c.graphql, GraphqlLimits::defaults(AppEnv::Development));
        assert!(c.graphql.introspection);
        assert_eq!(c.websocket.init_timeout, Duration::from_secs(10));
        assert_eq!(c.websocket.send_timeout, Duration::from_secs(10));
    }

    const ISSUER: (&str, &str) = ("AUTH_ISSUERS", "https://sso.example/application/o/portal/");
    const KEY: (&str, &str) = (
        "PLATFORM_API_SECRET_KEY",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    );

    #[test]
    fn the_secret_key_is_checked_and_required_in_production() {
        assert!(load(&[]).unwrap().secret_key.is_none());
        assert!(load(&[KEY]).unwrap().secret_key.is_some());
        let short = ("PLATFORM_API_SECRET_KEY", "abcd");
        assert_eq!(load(&[short]).unwrap_err().name, "PLATFORM_API_SECRET_KEY");
        assert_eq!(
            load(&[("APP_ENV", "production"), ISSUER]).unwrap_err().name,
            "PLATFORM_API_SECRET_KEY"
        );
        assert!(load(&[("APP_ENV", "production"), ISSUER, KEY]).is_ok());
    }

    #[test]
    fn production_turns_introspection_off_unless_asked() {
        let off = load(&[("APP_ENV", "production"), ISSUER, KEY]).unwrap();
        assert!(!off.graphql.introspection);
        let on = load(&[
            ("APP_ENV", "production"),
            ISSUER,
            KEY,
            ("GRAPHQL_INTROSPECTION", "true"),
        ])
        .unwrap();
        assert!(on.graphql.introspection);
    }

    #[test]
    fn production_refuses_the_development_issuer() {
        assert_eq!(
            load(&[("APP_ENV", "production")]).unwrap_err().name,
            "AUTH_ISSUERS"
        );
        assert!(load(&[]).unwrap().auth.uses_dev_issuer());
    }

    #[test]
    fn auth_lists_and_bounds() {
        let c = load(&[("AUTH_ISSUERS", "https://a/, https://b/ ,")]).unwrap();
        assert_eq!(c.auth.issuers, vec!["https://a/", "https://b/"]);
        assert_eq!(c.auth.audiences, vec!["dezky-portal", "dezky-operator"]);
        assert_eq!(
            load(&[("AUTH_LEEWAY_SECS", "61")]).unwrap_err().name,
            "AUTH_LEEWAY_SECS"
        );
        assert_eq!(
            load(&[("AUTH_FETCH_TIMEOUT_MS", "6000")]).unwrap_err().name,
            "AUTH_FETCH_TIMEOUT_MS"
        );
        assert_eq!(
            load(&[("AUTH_ISSUERS", "sso.example")]).unwrap_err().name,
            "AUTH_ISSUERS"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            load(&[("GRAPHQL_MAX_DEPTH", "deep")]).unwrap_err().name,
            "GRAPHQL_MAX_DEPTH"
        );
        assert_eq!(load(&[("APP_ENV", "staging")]).unwrap_err().name, "APP_ENV");
        assert_eq!(
            load(&[("WS_SEND_TIMEOUT_MS", "0")]).unwrap_err().name,
            "WS_SEND_TIMEOUT_MS"
        );
        assert_eq!(
            load(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err().name,
            "DATABASE_POOL_SIZE"
        );
        assert_eq!(
            load(&[("GRAPHQL_DEFAULT_PAGE_SIZE", "500")])
                .unwrap_err()
                .name,
            "GRAPHQL_DEFAULT_PAGE_SIZE"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = load(&[("DATABASE_URL", ""), ("BIND_ADDR", " ")]).unwrap();
        assert!(c.database.url.is_none());
        assert_eq!(c.bind_addr.port(), 8080);
    }
}
