//! A loopback identity provider shaped like an Authentik OAuth2 provider: a per-provider
//! issuer (`/application/o/<slug>/`, trailing slash), its discovery document and JWKS.
//! It counts fetches, can rotate keys, and can be made to fail (503) or hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

/// How the JWKS endpoint behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves the current keys.
    Up,
    /// Answers 503.
    Down,
    /// Never answers (until the client gives up).
    Hang,
}

/// A signing key of the fake.
#[derive(Clone)]
pub struct TestKey {
    /// Key id.
    pub kid: String,
    /// RS256 or ES256.
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// The public JWK.
    pub jwk: Jwk,
}

impl TestKey {
    /// A fresh ES256 (P-256) key.
    pub fn es256(kid: &str) -> Self {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        Self::from_encoding(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    }

    /// The RS256 fixture key.
    pub fn rs256(kid: &str) -> Self {
        let pem = include_bytes!("../fixtures/rsa-test-key.pem");
        Self::from_encoding(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(pem).unwrap(),
        )
    }

    fn from_encoding(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
        }
    }

    /// Signs `claims` with this key, naming `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs `claims` with a header `edit` may change first (e.g. to add `crit`).
    pub fn sign_with(&self, edit: impl FnOnce(&mut Header), claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        edit(&mut header);
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with this key but names another `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct IssuerState {
    issuer: String,
    keys: Mutex<Vec<TestKey>>,
    mode: Mutex<Mode>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    in_flight: AtomicUsize,
}

/// The running fake.
pub struct FakeIssuer {
    state: Arc<IssuerState>,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl FakeIssuer {
    /// Starts on a loopback port with `keys` published.
    pub async fn start(keys: Vec<TestKey>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(IssuerState {
            issuer: format!("http://{addr}/application/o/dezky-portal/"),
            keys: Mutex::new(keys),
            mode: Mutex::new(Mode::Up),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route(
                "/application/o/dezky-portal/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/application/o/dezky-portal/jwks/", get(jwks))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { state }
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// Replaces the published keys.
    pub fn publish(&self, keys: Vec<TestKey>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    /// Sets the JWKS endpoint's behaviour.
    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// JWKS requests received so far.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Discovery requests received so far.
    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    /// JWKS requests being answered right now (a hanging one counts).
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "issuer": state.issuer,
        "authorization_endpoint": format!("{}../authorize/", state.issuer),
        "jwks_uri": format!("{}jwks/", state.issuer),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr"],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let mode = *state.mode.lock().unwrap();
    let response = match mode {
        Mode::Up => {
            let keys: Vec<Jwk> = state
                .keys
                .lock()
                .unwrap()
                .iter()
                .map(|k| k.jwk.clone())
                .collect();
            axum::Json(json!({ "keys": keys })).into_response()
        }
        Mode::Down => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}
