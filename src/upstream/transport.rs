//! The HTTP plumbing all four clients share: timeouts, bounded retries with jittered
//! exponential backoff, `Retry-After`, `Idempotency-Key`, credentials, and one `tracing` span
//! per call that records what was called and how it went, never bodies or credentials.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::backoff;
use super::config::{Credentials, HttpSettings};
use super::error::CallError;

/// The body of a request.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// `application/json`.
    Json(Bytes),
    /// `application/x-www-form-urlencoded`.
    Form(String),
}

/// One logical call: a method and path relative to the client's base URL.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Body,
    retry_safe: bool,
    idempotency_key: Option<String>,
    replays_server_errors: bool,
}

impl Request {
    fn new(method: Method, path: impl Into<String>, retry_safe: bool) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Empty,
            retry_safe,
            idempotency_key: None,
            replays_server_errors: false,
        }
    }

    /// A GET (safe, so retried).
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, true)
    }

    /// A GET sent once, never retried (a liveness probe must report what it saw).
    pub fn probe(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, false)
    }

    /// A DELETE (idempotent, so retried).
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path, true)
    }

    /// A POST: not retried unless marked with [`Request::retry_safe`] or an idempotency key.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path, false)
    }

    /// A PATCH: not retried unless marked with [`Request::retry_safe`].
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path, false)
    }

    /// Declares that repeating this request has the same effect as sending it once.
    pub fn retry_safe(mut self) -> Self {
        self.retry_safe = true;
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: &impl serde::Serialize) -> Self {
        let bytes = serde_json::to_vec(value).expect("request bodies serialise");
        self.body = Body::Json(bytes.into());
        self
    }

    /// A form body from already bracket-encoded pairs.
    pub fn form(mut self, pairs: &[(String, String)]) -> Self {
        let encoded = serde_urlencoded::to_string(pairs).expect("pairs of strings encode");
        self.body = Body::Form(encoded);
        self
    }

    /// Declares that the upstream saves a 5xx under this request's idempotency key and
    /// replays it (Stripe): repeating the request after a 5xx is pointless, so it is not done
    /// (connect errors, broken connections and 429 are still retried with the same key).
    pub fn replays_server_errors(mut self) -> Self {
        self.replays_server_errors = true;
        self
    }

    /// Sends `Idempotency-Key`; the upstream then replays instead of repeating, so the call
    /// becomes retry-safe.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self.retry_safe = true;
        self
    }
}

/// A complete answer (any status).
#[derive(Debug)]
pub(crate) struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Response {
    /// Decodes a JSON body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.body).map_err(|e| CallError::decode(self.status.as_u16(), e))
    }

    /// The status as a number.
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }

    /// `Retry-After` as a duration (seconds or an HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self
            .headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?;
        backoff::parse_retry_after(value, std::time::SystemTime::now())
    }

    /// The shared meaning of a status: 5xx, 429 and 401 become a [`CallError`].
    pub fn common_error(&self) -> Option<CallError> {
        let status = self.code();
        match status {
            401 => Some(CallError::Unauthorized { status }),
            429 => Some(CallError::RateLimited {
                retry_after: self.retry_after(),
            }),
            500..=599 => Some(CallError::Unavailable { status }),
            _ => None,
        }
    }
}

/// A configured client for one upstream.
#[derive(Debug)]
pub(crate) struct Transport {
    system: &'static str,
    base: String,
    client: reqwest::Client,
    credentials: Credentials,
    settings: HttpSettings,
}

impl Transport {
    /// A client for `system` at `base` (any path on it is kept as a prefix).
    pub fn new(
        system: &'static str,
        base: &Url,
        credentials: Credentials,
        settings: &HttpSettings,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("platform-api/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            system,
            base: base.as_str().trim_end_matches('/').to_owned(),
            client,
            credentials,
            settings: settings.clone(),
        })
    }

    /// Sends a request, retrying as its kind allows, inside one span for the whole call.
    pub async fn send(&self, request: Request) -> Result<Response, CallError> {
        let span = tracing::info_span!(
            "upstream",
            system = self.system,
            method = %request.method,
            path = %request.path,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        self.send_with_retries(request).instrument(span).await
    }

    async fn send_with_retries(&self, request: Request) -> Result<Response, CallError> {
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let result = loop {
            attempt += 1;
            let result = self.send_once(&request).await;
            let Some(delay) = self.retry_delay(&request, &result, attempt) else {
                break result;
            };
            tracing::debug!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                outcome = %describe(&result),
                "upstream call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        };
        let span = tracing::Span::current();
        span.record("attempts", attempt);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(response) => {
                span.record("status", response.code());
                if response.status.is_server_error() || matches!(response.code(), 401 | 403 | 429) {
                    tracing::warn!("upstream call failed");
                } else {
                    tracing::debug!("upstream call finished");
                }
            }
            Err(err) => tracing::warn!(error = %err, "upstream call failed"),
        }
        result
    }

    /// How long to wait before the next attempt, or `None` to stop.
    fn retry_delay(
        &self,
        request: &Request,
        result: &Result<Response, CallError>,
        attempt: u32,
    ) -> Option<Duration> {
        if attempt > self.settings.max_retries {
            return None;
        }
        let backoff = || backoff::delay(&self.settings, attempt);
        match result {
            // Nothing reached the upstream: always safe to try again.
            Err(CallError::Connect(_)) => Some(backoff()),
            Err(CallError::Connection(_)) if request.retry_safe => Some(backoff()),
            // 429 and 5xx (503 often) may say when to come back; a wait beyond the cap
            // ends the call and leaves the timing to the caller.
            Ok(response) if request.replays_server_errors && response.status.is_server_error() => {
                None
            }
            Ok(response) if request.retry_safe && matches!(response.code(), 429 | 500..=599) => {
                match response.retry_after() {
                    Some(wait) if wait <= self.settings.retry_max => Some(wait),
                    Some(_) => None,
                    None => Some(backoff()),
                }
            }
            _ => None,
        }
    }

    async fn send_once(&self, request: &Request) -> Result<Response, CallError> {
        let url = format!("{}{}", self.base, request.path);
        let url = Url::parse(&url).map_err(|e| CallError::Unexpected {
            status: 0,
            detail: format!("bad request URL: {e}"),
        })?;
        let mut builder = self.client.request(request.method.clone(), url);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        builder = match &self.credentials {
            Credentials::Bearer(token) => builder.bearer_auth(token.expose()),
            Credentials::Basic { username, password } => {
                builder.basic_auth(username, Some(password.expose()))
            }
        };
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(bytes) => builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(bytes.clone()),
            Body::Form(text) => builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(text.clone()),
        };
        let response = builder.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.classify(e))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn classify(&self, err: reqwest::Error) -> CallError {
        let err = err.without_url();
        let message = chain(&err);
        if err.is_timeout() {
            CallError::Timeout(self.settings.request_timeout)
        } else if err.is_connect() {
            CallError::Connect(message)
        } else {
            CallError::Connection(message)
        }
    }
}

/// The error and its sources on one line (reqwest's own message alone says little).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn describe(result: &Result<Response, CallError>) -> String {
    match result {
        Ok(response) => format!("HTTP {}", response.code()),
        Err(err) => err.to_string(),
    }
}
