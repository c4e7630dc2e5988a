//! A Stalwart 0.16 fake: JMAP session discovery (`/.well-known/jmap` → 307 →
//! `/jmap/session`), Basic or Bearer auth (else 401 `application/problem+json` with
//! `WWW-Authenticate`), the request envelope (`using` must name `urn:stalwart:jmap`),
//! back-references (`#ids` → `resultOf`/`name`/`path`), method errors, and `/get`,
//! `/query`, `/set` on `x:Domain`, `x:Account` and `x:DkimSignature` with `SetError`s.
//!
//! Every method call is checked against the Stalwart part of the contract table (generated
//! from the 0.16 registry schema; see `contract.rs`): a call outside it is a violation that
//! fails the test, answered with the method error or SetError the server would give.

mod accounts;
pub mod contract;
mod domains;
mod objects;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Control, Fake};

/// The administrator the fake accepts over Basic auth.
pub const ADMIN: &str = "admin";
/// That administrator's password.
pub const ADMIN_PASSWORD: &str = "fake-admin-pw-Q2w3e4r5";
/// The API key the fake accepts over Bearer auth.
pub const API_KEY: &str = "api_fake_key_7Yh6Tg5Rf4";
/// The JMAP account everything lives in.
pub const ACCOUNT: &str = "b";

/// The fake's registry.
#[derive(Default)]
pub struct StalwartState {
    /// `x:Domain` objects by id.
    pub domains: BTreeMap<String, Value>,
    /// `x:Account` objects by id (secrets masked).
    pub accounts: BTreeMap<String, Value>,
    /// `x:DkimSignature` objects by id.
    pub dkim: BTreeMap<String, Value>,
    /// The plaintext passwords the server would hash, by account id.
    pub passwords: HashMap<String, String>,
    /// Like the real server, generate a new domain's DKIM keys in the background: they stay
    /// in [`Self::pending_dkim`] until [`Self::run_dkim_task`] (the test decides when).
    pub dkim_in_background: bool,
    /// Keys generated but not yet stored.
    pub pending_dkim: Vec<(String, Value)>,
    /// The next domain create loses a race: another client creates the same name first (so
    /// the create is refused with `primaryKeyViolation`, as two concurrent creators see it).
    pub another_client_creates_next_domain: bool,
    next_id: u64,
}

impl StalwartState {
    /// Runs the background `DkimManagement` task: pending keys appear.
    pub fn run_dkim_task(&mut self) {
        for (id, key) in std::mem::take(&mut self.pending_dkim) {
            self.dkim.insert(id, key);
        }
    }

    /// Adds a domain straight to the registry (for volume tests); returns its id.
    pub fn seed_domain(&mut self, name: &str) -> String {
        let id = self.id("d");
        let domain = json!({"id": id, "name": name, "aliases": {}, "isEnabled": true,
            "reportAddressUri": "mailto:postmaster", "dkimManagement": {"@type": "Manual"},
            "dnsManagement": {"@type": "Manual"}, "createdAt": "2025-11-23T12:00:00Z"});
        self.domains.insert(id.clone(), domain);
        id
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }
}

type Shared = Arc<Mutex<StalwartState>>;

/// Starts the fake.
pub async fn spawn() -> Fake<StalwartState> {
    let router = Router::new()
        .route("/jmap/session", get(session))
        .route("/jmap/", post(api))
        .route_layer(middleware::from_fn(authenticate))
        .route("/.well-known/jmap", get(well_known));
    super::spawn(router, StalwartState::default(), |status| {
        problem(status, "about:blank", "injected fault")
    })
    .await
}

/// `application/problem+json`, as Stalwart answers request-level errors.
pub fn problem(status: u16, kind: &str, detail: &str) -> Response {
    let body = json!({ "type": kind, "status": status, "detail": detail });
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn authenticate(request: Request, next: Next) -> Response {
    use base64::Engine;
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN}:{ADMIN_PASSWORD}"));
    if header == format!("Bearer {API_KEY}") || header == format!("Basic {basic}") {
        return next.run(request).await;
    }
    let mut response = problem(401, "about:blank", "You have to authenticate first.");
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        "Bearer realm=\"Stalwart Server\"".parse().unwrap(),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        "Basic realm=\"Stalwart Server\"".parse().unwrap(),
    );
    response
}

async fn well_known() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, "/jmap/session")],
    )
        .into_response()
}

async fn session(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let capabilities = json!({
        "urn:ietf:params:jmap:core": {"maxSizeRequest": 10_000_000, "maxCallsInRequest": 16,
            "maxObjectsInGet": objects::MAX_OBJECTS_IN_GET, "maxObjectsInSet": 500},
        "urn:ietf:params:jmap:mail": {},
        "urn:stalwart:jmap": {},
    });
    axum::Json(json!({
        "capabilities": capabilities,
        "accounts": { ACCOUNT: { "name": ADMIN, "isPersonal": true, "isReadOnly": false,
            "accountCapabilities": {"urn:ietf:params:jmap:mail": {}, "urn:stalwart:jmap": {}} } },
        "primaryAccounts": { "urn:ietf:params:jmap:mail": ACCOUNT, "urn:stalwart:jmap": ACCOUNT },
        "username": ADMIN,
        "apiUrl": format!("http://{host}/jmap/"),
        "downloadUrl": format!("http://{host}/jmap/download/{{accountId}}/{{blobId}}/{{name}}?accept={{type}}"),
        "uploadUrl": format!("http://{host}/jmap/upload/{{accountId}}/"),
        "eventSourceUrl": format!("http://{host}/jmap/eventsource/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}"),
        "state": "s1",
    }))
    .into_response()
}

/// A method-level error: `["error", {"type": …}, id]`.
pub struct MethodError(pub &'static str, pub String);

async fn api(
    State(state): State<Shared>,
    Extension(control): Extension<Arc<Control>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let Some(request) = json_type
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
    else {
        return problem(400, "urn:ietf:params:jmap:error:notJSON", "Not JSON");
    };
    let (Some(using), Some(calls)) = (
        request["using"].as_array(),
        request["methodCalls"].as_array(),
    ) else {
        return problem(
            400,
            "urn:ietf:params:jmap:error:notRequest",
            "Not a JMAP request",
        );
    };
    for needed in ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"] {
        if !using.iter().any(|u| u == needed) {
            return problem(400, "urn:ietf:params:jmap:error:unknownCapability", needed);
        }
    }
    let mut responses: Vec<Value> = Vec::new();
    let mut s = state.lock().unwrap();
    for call in calls {
        let (Some(name), Some(args), Some(id)) =
            (call[0].as_str(), call[1].as_object(), call[2].as_str())
        else {
            return problem(
                400,
                "urn:ietf:params:jmap:error:notRequest",
                "Bad invocation",
            );
        };
        let result = resolve(args, &responses).and_then(|args| {
            if args.get("accountId").and_then(Value::as_str) != Some(ACCOUNT) {
                return Err(MethodError("accountNotFound", String::new()));
            }
            control.saw_operation(name);
            if let Err((kind, why)) = contract::STALWART.check_call(name, &args) {
                control.violate(format!("stalwart contract: {name} ({id}): {why}"));
                return Err(MethodError(kind, why));
            }
            objects::dispatch(&mut s, name, &args, &control)
        });
        responses.push(match result {
            Ok(answer) => json!([name, answer, id]),
            Err(MethodError(kind, description)) => {
                json!(["error", {"type": kind, "description": description}, id])
            }
        });
    }
    axum::Json(json!({ "methodResponses": responses, "sessionState": "s1" })).into_response()
}

/// Replaces each `#name: {resultOf, name, path}` argument with the value it points at.
fn resolve(
    args: &serde_json::Map<String, Value>,
    earlier: &[Value],
) -> Result<serde_json::Map<String, Value>, MethodError> {
    let mut out = serde_json::Map::new();
    for (key, value) in args {
        let Some(plain) = key.strip_prefix('#') else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let invalid = || MethodError("invalidResultReference", format!("cannot resolve {key}"));
        let source = earlier
            .iter()
            .find(|r| r[2] == value["resultOf"] && r[0] == value["name"])
            .ok_or_else(invalid)?;
        let path = value["path"].as_str().ok_or_else(invalid)?;
        let found = pointer(&source[1], path).ok_or_else(invalid)?;
        out.insert(plain.to_owned(), found);
    }
    Ok(out)
}

/// RFC 8620 §3.7 JSON pointer with `*` mapping over arrays.
fn pointer(value: &Value, path: &str) -> Option<Value> {
    let mut current = vec![value.clone()];
    for segment in path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
    {
        let mut next = Vec::new();
        for v in current {
            if segment == "*" {
                next.extend(v.as_array()?.iter().cloned());
            } else {
                next.push(v.get(segment)?.clone());
            }
        }
        current = next;
    }
    if path.contains('*') {
        Some(Value::Array(current))
    } else {
        current.into_iter().next()
    }
}
