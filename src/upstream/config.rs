//! Upstream settings, read from the environment by [`crate::config::Config`].
//!
//! An upstream is enabled exactly when its URL and credentials are set (Stripe: its secret
//! key). Half a configuration (a URL without credentials, or the reverse) is an error, so a
//! typo cannot silently disable a system.

use std::time::Duration;

use reqwest::Url;

use super::Secret;
use crate::config::ConfigError;

/// Timeouts and retry policy shared by every upstream client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Longest wait for a TCP (and TLS) connection (`UPSTREAM_CONNECT_TIMEOUT_MS`).
    pub connect_timeout: Duration,
    /// Longest wait for a complete answer, per attempt (`UPSTREAM_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Retries after the first attempt, for calls that may be repeated (`UPSTREAM_MAX_RETRIES`).
    pub max_retries: u32,
    /// First backoff step; doubles per retry (`UPSTREAM_RETRY_BASE_MS`).
    pub retry_base: Duration,
    /// Cap of one backoff step, and the longest `Retry-After` honoured; a longer one ends
    /// the call with a rate-limit error instead (`UPSTREAM_RETRY_MAX_MS`).
    pub retry_max: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_base: Duration::from_millis(200),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// How a client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password.
        password: Secret,
    },
}

/// Authentik: `AUTHENTIK_URL` + `AUTHENTIK_TOKEN` (an API token; the client adds `/api/v3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthentikConfig {
    /// The server's root URL, e.g. `https://auth.example.com`.
    pub url: Url,
    /// The API token.
    pub token: Secret,
}

/// Stalwart: `STALWART_URL` + `STALWART_TOKEN`, or `STALWART_USERNAME` + `STALWART_PASSWORD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalwartConfig {
    /// The server's root URL; JMAP is discovered from `/.well-known/jmap`.
    pub url: Url,
    /// An API key (Bearer) or an administrator's name and password (Basic).
    pub credentials: Credentials,
}

/// oCIS: `OCIS_URL` + `OCIS_TOKEN`, or `OCIS_USERNAME` + `OCIS_PASSWORD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcisConfig {
    /// The server's root URL; libregraph lives under `/graph`.
    pub url: Url,
    /// A bearer token, or a user name and (app) password for Basic auth.
    pub credentials: Credentials,
}

/// Stripe: `STRIPE_SECRET_KEY` (+ `STRIPE_API_BASE`, for fakes and proxies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// The secret API key (`sk_…` or a restricted `rk_…`).
    pub secret_key: Secret,
    /// Where the API lives; default `https://api.stripe.com` (paths start with `/v1`).
    pub api_base: Url,
}

/// Every upstream's settings; `None` means disabled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamsConfig {
    /// Timeouts and retries.
    pub http: HttpSettings,
    /// Authentik, when configured.
    pub authentik: Option<AuthentikConfig>,
    /// Stalwart, when configured.
    pub stalwart: Option<StalwartConfig>,
    /// oCIS, when configured.
    pub ocis: Option<OcisConfig>,
    /// Stripe's API, when configured.
    pub stripe: Option<StripeConfig>,
    /// The signing secret of the Stripe webhook endpoint (`STRIPE_WEBHOOK_SECRET`, `whsec_…`).
    pub stripe_webhook_secret: Option<Secret>,
    /// The publishable key browsers use with Stripe.js (`STRIPE_PUBLISHABLE_KEY`, `pk_…`;
    /// public by design, handed out with a SetupIntent).
    pub stripe_publishable_key: Option<String>,
}

/// The default Stripe API base.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

impl UpstreamsConfig {
    /// Reads the upstream variables through `get` (which already treats blank as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = HttpSettings::default();
        let http = HttpSettings {
            connect_timeout: millis(get, "UPSTREAM_CONNECT_TIMEOUT_MS", defaults.connect_timeout)?,
            request_timeout: millis(get, "UPSTREAM_REQUEST_TIMEOUT_MS", defaults.request_timeout)?,
            max_retries: number(get, "UPSTREAM_MAX_RETRIES", defaults.max_retries)?,
            retry_base: millis(get, "UPSTREAM_RETRY_BASE_MS", defaults.retry_base)?,
            retry_max: millis(get, "UPSTREAM_RETRY_MAX_MS", defaults.retry_max)?,
        };
        let authentik = match (url(get, "AUTHENTIK_URL")?, get("AUTHENTIK_TOKEN")) {
            (Some(url), Some(token)) => Some(AuthentikConfig {
                url,
                token: Secret::new(token),
            }),
            (None, None) => None,
            (Some(_), None) => return Err(missing("AUTHENTIK_TOKEN", "AUTHENTIK_URL")),
            (None, Some(_)) => return Err(missing("AUTHENTIK_URL", "AUTHENTIK_TOKEN")),
        };
        let stalwart = system(
            get,
            [
                "STALWART_URL",
                "STALWART_TOKEN",
                "STALWART_USERNAME",
                "STALWART_PASSWORD",
            ],
        )?
        .map(|(url, credentials)| StalwartConfig { url, credentials });
        let ocis = system(
            get,
            ["OCIS_URL", "OCIS_TOKEN", "OCIS_USERNAME", "OCIS_PASSWORD"],
        )?
        .map(|(url, credentials)| OcisConfig { url, credentials });
        let api_base = url(get, "STRIPE_API_BASE")?
            .unwrap_or_else(|| Url::parse(STRIPE_API_BASE).expect("a valid default"));
        let stripe = get("STRIPE_SECRET_KEY").map(|key| StripeConfig {
            secret_key: Secret::new(key),
            api_base,
        });
        Ok(Self {
            http,
            authentik,
            stalwart,
            ocis,
            stripe,
            stripe_webhook_secret: get("STRIPE_WEBHOOK_SECRET").map(Secret::new),
            stripe_publishable_key: get("STRIPE_PUBLISHABLE_KEY"),
        })
    }
}

/// `<P>_URL` plus either `<P>_TOKEN` or `<P>_USERNAME` + `<P>_PASSWORD`; `names` lists
/// those four variable names in that order.
fn system(
    get: &dyn Fn(&str) -> Option<String>,
    names: [&'static str; 4],
) -> Result<Option<(Url, Credentials)>, ConfigError> {
    let [url_name, token_name, user_name, password_name] = names;
    let url = url(get, url_name)?;
    let token = get(token_name);
    let user = get(user_name);
    let password = get(password_name);
    let credentials = match (token, user, password) {
        (Some(token), None, None) => Some(Credentials::Bearer(Secret::new(token))),
        (None, Some(username), Some(password)) => Some(Credentials::Basic {
            username,
            password: Secret::new(password),
        }),
        (None, None, None) => None,
        (Some(_), _, _) => {
            return Err(ConfigError {
                name: token_name,
                message: format!("set either {token_name} or {user_name} + {password_name}"),
            });
        }
        (None, Some(_), None) => return Err(missing(password_name, user_name)),
        (None, None, Some(_)) => return Err(missing(user_name, password_name)),
    };
    match (url, credentials) {
        (Some(url), Some(credentials)) => Ok(Some((url, credentials))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError {
            name: token_name,
            message: format!(
                "{url_name} is set: set {token_name} or {user_name} + {password_name}"
            ),
        }),
        (None, Some(_)) => Err(missing(url_name, token_name)),
    }
}

fn missing(name: &'static str, because: &str) -> ConfigError {
    ConfigError {
        name,
        message: format!("required because {because} is set"),
    }
}

fn url(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(None);
    };
    let parsed = Url::parse(raw.trim()).map_err(|e| ConfigError {
        name,
        message: format!("{raw:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError {
            name,
            message: format!("{raw:?} is not an http(s) URL"),
        });
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError {
            name,
            message: "credentials do not belong in the URL; use the credential variables".into(),
        });
    }
    Ok(Some(parsed))
}

fn number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| ConfigError {
            name,
            message: format!("cannot parse {raw:?}: {e}"),
        }),
    }
}

fn millis(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(0) => Err(ConfigError {
                name,
                message: "must be at least 1".into(),
            }),
            Ok(ms) => Ok(Duration::from_millis(ms)),
            Err(e) => Err(ConfigError {
                name,
                message: format!("cannot parse {raw:?}: {e}"),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<UpstreamsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        UpstreamsConfig::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_everything_disabled() {
        let c = load(&[]).unwrap();
        assert_eq!(c, UpstreamsConfig::default());
        assert!(c.authentik.is_none() && c.stalwart.is_none());
        assert!(c.ocis.is_none() && c.stripe.is_none());
    }

    #[test]
    fn each_upstream_is_enabled_by_its_variables() {
        let c = load(&[
            ("AUTHENTIK_URL", "https://auth.example.com"),
            ("AUTHENTIK_TOKEN", "ak-token"),
            ("STALWART_URL", "https://mail.example.com"),
            ("STALWART_USERNAME", "admin"),
            ("STALWART_PASSWORD", "pw"),
            ("OCIS_URL", "https://files.example.com"),
            ("OCIS_TOKEN", "oc-token"),
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("UPSTREAM_MAX_RETRIES", "5"),
        ])
        .unwrap();
        assert_eq!(c.authentik.unwrap().token.expose(), "ak-token");
        assert!(matches!(
            c.stalwart.unwrap().credentials,
            Credentials::Basic { ref username, .. } if username == "admin"
        ));
        assert!(matches!(
            c.ocis.unwrap().credentials,
            Credentials::Bearer(_)
        ));
        let stripe = c.stripe.unwrap();
        assert_eq!(stripe.api_base.as_str(), "https://api.stripe.com/");
        assert_eq!(c.stripe_webhook_secret.unwrap().expose(), "whsec_1");
        assert_eq!(c.http.max_retries, 5);
    }

    #[test]
    fn half_a_configuration_names_the_missing_variable() {
        let name = |vars: &[(&str, &str)]| load(vars).unwrap_err().name;
        assert_eq!(
            name(&[("AUTHENTIK_URL", "https://a.example")]),
            "AUTHENTIK_TOKEN"
        );
        assert_eq!(name(&[("AUTHENTIK_TOKEN", "t")]), "AUTHENTIK_URL");
        assert_eq!(name(&[("OCIS_URL", "https://o.example")]), "OCIS_TOKEN");
        assert_eq!(name(&[("STALWART_USERNAME", "admin")]), "STALWART_PASSWORD");
        assert_eq!(
            name(&[
                ("STALWART_URL", "https://m.example"),
                ("STALWART_TOKEN", "t"),
                ("STALWART_USERNAME", "u")
            ]),
            "STALWART_TOKEN"
        );
        assert_eq!(name(&[("STRIPE_API_BASE", "ftp://x")]), "STRIPE_API_BASE");
        assert_eq!(
            name(&[("OCIS_URL", "https://u:p@o.example"), ("OCIS_TOKEN", "t")]),
            "OCIS_URL"
        );
        assert_eq!(
            name(&[("UPSTREAM_REQUEST_TIMEOUT_MS", "0")]),
            "UPSTREAM_REQUEST_TIMEOUT_MS"
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = load(&[
            ("AUTHENTIK_URL", "https://auth.example.com"),
            ("AUTHENTIK_TOKEN", "ak-very-secret"),
            ("STRIPE_SECRET_KEY", "sk_test_very_secret"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_very_secret"),
            ("OCIS_URL", "https://files.example.com"),
            ("OCIS_USERNAME", "admin"),
            ("OCIS_PASSWORD", "very-secret-pw"),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("very"), "{debug}");
    }
}
