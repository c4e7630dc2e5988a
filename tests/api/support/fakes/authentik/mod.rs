//! An Authentik 2025.10 fake (`/api/v3`): Bearer token or **403** `{"detail": …}` (DRF's
//! answer without `authenticate_header`), the pagination envelope, 400 field errors with
//! DRF's messages, 404 `detail`, 201 on create and 204 on delete.
//!
//! Request bodies are checked against the required fields and constraints of the 2025.10.4
//! OpenAPI schema (`../shared/upstream-specs/authentik-2025.10.4-openapi.yml`,
//! `components.schemas.*Request`), written out by hand next to each handler.

mod directory;
mod sso;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};

use super::Fake;

/// The API token the fake accepts.
pub const TOKEN: &str = "ak-fake-api-token-9f8e7d6c5b4a";

/// Slug of the seeded implicit-consent authorization flow.
pub const AUTHORIZATION_FLOW: &str = "default-provider-authorization-implicit-consent";
/// Slug of the seeded invalidation flow.
pub const INVALIDATION_FLOW: &str = "default-provider-invalidation-flow";
/// Name of the seeded signing key.
pub const SIGNING_KEY: &str = "authentik Self-signed Certificate";

/// The fake's in-memory Authentik.
pub struct AuthentikState {
    /// Groups by uuid (each with `users`: member pks).
    pub groups: BTreeMap<String, Value>,
    /// Users by pk.
    pub users: BTreeMap<i64, Value>,
    /// Passwords set through `set_password`.
    pub passwords: HashMap<i64, String>,
    /// Authenticated sessions.
    pub sessions: Vec<Value>,
    /// MFA devices (each with `user`).
    pub devices: Vec<Value>,
    /// OAuth2 providers by pk.
    pub providers: BTreeMap<i64, Value>,
    /// Applications by slug.
    pub applications: BTreeMap<String, Value>,
    /// Policy bindings by uuid.
    pub bindings: BTreeMap<String, Value>,
    /// Flows.
    pub flows: Vec<Value>,
    /// Certificate-key pairs.
    pub keypairs: Vec<Value>,
    /// Scope mappings.
    pub scope_mappings: Vec<Value>,
    /// Simulates a server that ignores `user__username` on the sessions list.
    pub ignore_session_filter: bool,
    /// Paths (under `/api/v3`, by prefix) our token lacks the permission for: 403 with DRF's
    /// `PermissionDenied` detail.
    pub denied: Vec<String>,
    next_pk: i64,
}

impl AuthentikState {
    fn seeded() -> Self {
        // `Flow`, `CertificateKeyPair` and `ScopeMapping` with every field the schema requires.
        let flow = |slug: &str, designation: &str| {
            json!({"pk": uuid(), "slug": slug, "name": slug, "title": slug,
                   "designation": designation, "policybindingmodel_ptr_id": uuid(),
                   "background": "/static/dist/assets/images/flow_background.jpg",
                   "stages": [], "policies": [], "cache_count": 0,
                   "export_url": format!("/api/v3/flows/instances/{slug}/export/")})
        };
        let scope = |name: &str| {
            json!({"pk": uuid(), "managed": format!("goauthentik.io/providers/oauth2/scope-{name}"),
                   "name": format!("authentik default OAuth Mapping: OpenID '{name}'"),
                   "scope_name": name, "expression": "return {}", "description": "",
                   "component": "ak-property-mapping-provider-scope-form",
                   "verbose_name": "Scope Mapping", "verbose_name_plural": "Scope Mappings",
                   "meta_model_name": "authentik_providers_oauth2.scopemapping"})
        };
        let key_pk = uuid();
        Self {
            groups: BTreeMap::new(),
            users: BTreeMap::new(),
            passwords: HashMap::new(),
            sessions: Vec::new(),
            devices: Vec::new(),
            providers: BTreeMap::new(),
            applications: BTreeMap::new(),
            bindings: BTreeMap::new(),
            flows: vec![
                flow(AUTHORIZATION_FLOW, "authorization"),
                flow(
                    "default-provider-authorization-explicit-consent",
                    "authorization",
                ),
                flow(INVALIDATION_FLOW, "invalidation"),
            ],
            keypairs: vec![json!({"pk": key_pk, "name": SIGNING_KEY,
                "private_key_available": true, "private_key_type": "rsa", "managed": null,
                "fingerprint_sha256": "00:11", "fingerprint_sha1": "00:11",
                "cert_expiry": "2026-11-01T00:00:00Z", "cert_subject": "CN=authentik Self-signed Certificate",
                "certificate_download_url": format!("/api/v3/crypto/certificatekeypairs/{key_pk}/view_certificate/?download"),
                "private_key_download_url": format!("/api/v3/crypto/certificatekeypairs/{key_pk}/view_private_key/?download")})],
            scope_mappings: ["openid", "email", "profile", "offline_access"]
                .into_iter()
                .map(scope)
                .collect(),
            ignore_session_filter: false,
            denied: Vec::new(),
            next_pk: 0,
        }
    }

    fn pk(&mut self) -> i64 {
        self.next_pk += 1;
        self.next_pk
    }

    /// The uuid of a seeded flow.
    pub fn flow_pk(&self, slug: &str) -> String {
        let flow = self
            .flows
            .iter()
            .find(|f| f["slug"] == slug)
            .expect("a seeded flow");
        flow["pk"].as_str().unwrap().to_owned()
    }

    /// A seeded flow's `PolicyBindingModel` uuid (`policybindingmodel_ptr_id`): a binding
    /// target, as an application's pk is.
    pub fn flow_binding_target(&self, slug: &str) -> String {
        let flow = self
            .flows
            .iter()
            .find(|f| f["slug"] == slug)
            .expect("a seeded flow");
        flow["policybindingmodel_ptr_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

type Shared = Arc<Mutex<AuthentikState>>;

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Starts the fake.
pub async fn spawn() -> Fake<AuthentikState> {
    let api = Router::new()
        .route(
            "/core/groups/",
            get(directory::list_groups).post(directory::create_group),
        )
        .route(
            "/core/groups/{pk}/",
            get(directory::get_group).delete(directory::delete_group),
        )
        .route("/core/groups/{pk}/{action}/", post(directory::membership))
        .route(
            "/core/users/",
            get(directory::list_users).post(directory::create_user),
        )
        .route("/core/users/me/", get(directory::me))
        .route(
            "/core/users/{pk}/",
            get(directory::get_user)
                .patch(directory::patch_user)
                .delete(directory::delete_user),
        )
        .route(
            "/core/users/{pk}/set_password/",
            post(directory::set_password),
        )
        .route(
            "/core/authenticated_sessions/",
            get(directory::list_sessions),
        )
        .route(
            "/core/authenticated_sessions/{pk}/",
            delete(directory::delete_session),
        )
        .route(
            "/authenticators/admin/all/",
            get(directory::all_authenticators),
        )
        .route(
            "/providers/oauth2/",
            get(sso::list_providers).post(sso::create_provider),
        )
        .route(
            "/providers/oauth2/{pk}/",
            delete(sso::delete_provider).patch(sso::patch_provider),
        )
        .route(
            "/core/applications/",
            get(sso::list_applications).post(sso::create_application),
        )
        .route(
            "/core/applications/{slug}/",
            get(sso::get_application)
                .delete(sso::delete_application)
                .patch(sso::patch_application),
        )
        .route(
            "/policies/bindings/",
            get(sso::list_bindings).post(sso::create_binding),
        )
        .route("/policies/bindings/{pk}/", delete(sso::delete_binding))
        .route("/flows/instances/", get(sso::list_flows))
        .route("/crypto/certificatekeypairs/", get(sso::list_keypairs))
        .route(
            "/propertymappings/provider/scope/",
            get(sso::list_scope_mappings),
        )
        .layer(middleware::from_fn(authenticate));
    let router = Router::new().nest("/api/v3", api);
    let options = super::Options {
        contract: Some(&super::contract::AUTHENTIK),
        rules: None,
        refusal: Some(refusal),
        interceptor: Some(Box::new(|state| Arc::new(Permissions(state)))),
    };
    let state = AuthentikState::seeded();
    super::spawn_with(
        router,
        state,
        |_| axum::Json(json!({"detail": "injected fault"})).into_response(),
        options,
    )
    .await
}

/// Answers 403 `PermissionDenied` on the paths listed in [`AuthentikState::denied`].
struct Permissions(Shared);

impl super::Interceptor for Permissions {
    fn before(&self, call: &super::Call) -> Option<Response> {
        let path = call.path.strip_prefix("/api/v3")?;
        let denied = self
            .0
            .lock()
            .unwrap()
            .denied
            .iter()
            .any(|p| path.starts_with(p.as_str()));
        denied.then(|| {
            let detail = "You do not have permission to perform this action.";
            (
                StatusCode::FORBIDDEN,
                axum::Json(json!({ "detail": detail })),
            )
                .into_response()
        })
    }

    fn faulted(&self, _: &super::Call, _: u16) {}
}

/// How Authentik refuses a request outside its schema: DRF's 400 `ValidationError`, field
/// errors under their (nested) field names — `{"redirect_uris": [{}, {"url": [msg]}]}` —
/// the rest under `non_field_errors`, each message naming the spec operation; an unknown
/// path or method is DRF's 404 / 405 `{"detail": …}`.
fn refusal(status: u16, message: &str, problems: &[String]) -> Response {
    if status != 400 || problems.is_empty() {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, axum::Json(json!({ "detail": message }))).into_response();
    }
    let operation = message.split(": ").nth(1).unwrap_or(message);
    let mut body = json!({ "code": "invalid" });
    for problem in problems {
        let (at, what) = problem.split_once(": ").unwrap_or(("", problem));
        let text = json!(format!("{what} ({operation})"));
        match at.strip_prefix("body.") {
            Some(path) => push_error(&mut body, path, text),
            None => push_error(&mut body, "non_field_errors", text),
        }
    }
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Puts `message` at `a[1].b` as DRF nests serializer errors (lists of per-item objects).
fn push_error(body: &mut Value, path: &str, message: Value) {
    let (head, rest) = match path.find(['.', '[']) {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    if rest.is_empty() {
        let slot = &mut body[head];
        if !slot.is_array() {
            *slot = json!([]);
        }
        slot.as_array_mut().unwrap().push(message);
        return;
    }
    if let Some(index_rest) = rest.strip_prefix('[') {
        let (index, after) = index_rest.split_once(']').unwrap_or((index_rest, ""));
        let index: usize = index.parse().unwrap_or(0);
        let slot = &mut body[head];
        if !slot.is_array() {
            *slot = json!([]);
        }
        let items = slot.as_array_mut().unwrap();
        while items.len() <= index {
            items.push(json!({}));
        }
        push_error(&mut items[index], after.trim_start_matches('.'), message);
    } else {
        let slot = &mut body[head];
        if !slot.is_object() {
            *slot = json!({});
        }
        push_error(slot, rest.trim_start_matches('.'), message);
    }
}

impl Fake<AuthentikState> {
    /// Adds a session for a user; returns its uuid.
    pub fn add_session(&self, user_pk: i64) -> String {
        let id = uuid();
        let user_agent = json!({
            "device": {"brand": "Other", "family": "Other", "model": "Other"},
            "os": {"family": "Other", "major": "", "minor": "", "patch": "", "patch_minor": ""},
            "string": "curl/8.5.0",
            "user_agent": {"family": "curl", "major": "8", "minor": "5", "patch": "0"},
        });
        self.state().sessions.push(json!({
            "uuid": id, "user": user_pk, "current": false, "user_agent": user_agent, "geo_ip": null,
            "asn": null, "last_ip": "192.0.2.1", "last_user_agent": "curl",
            "last_used": "2025-11-01T10:00:00Z", "expires": "2025-12-01T10:00:00Z",
        }));
        id
    }

    /// Adds an MFA device for a user.
    pub fn add_device(&self, user_pk: i64, kind: &str) {
        // `Device` (every field the schema requires), plus `user` for the fake's filter.
        self.state().devices.push(json!({
            "pk": uuid(), "name": kind, "type": format!("authentik_stages_authenticator_{kind}.device"),
            "confirmed": true, "user": user_pk, "verbose_name": format!("{kind} device"),
            "verbose_name_plural": format!("{kind} devices"),
            "meta_model_name": format!("authentik_stages_authenticator_{kind}.{kind}device"),
            "created": "2025-11-01T00:00:00Z", "last_updated": "2025-11-01T00:00:00Z",
            "last_used": null, "extra_description": null, "external_id": null,
        }));
    }
}

/// `Authorization: Bearer <token>`; anything else is 403 with DRF's `detail`.
async fn authenticate(request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let detail = match header.split_once(' ') {
        Some(("Bearer", token)) if token == TOKEN => return next.run(request).await,
        Some(("Bearer", _)) => "Token invalid/expired",
        None if header.is_empty() => "Authentication credentials were not provided.",
        _ => "Unsupported authentication type",
    };
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({ "detail": detail })),
    )
        .into_response()
}

/// `PaginatedXList` over `items`, honouring `page` and `page_size`.
fn paginate(items: Vec<Value>, query: &[(String, String)]) -> Response {
    let number = |name: &str, default: usize| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let (page, size) = (number("page", 1), number("page_size", 20));
    let count = items.len();
    let total_pages = count.div_ceil(size).max(1);
    if page > total_pages {
        return not_found("page");
    }
    let results: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    let start = if results.is_empty() {
        0
    } else {
        (page - 1) * size + 1
    };
    axum::Json(json!({
        "pagination": {
            "next": if page < total_pages { page + 1 } else { 0 },
            "previous": page.saturating_sub(1),
            "count": count, "current": page, "total_pages": total_pages,
            "start_index": start, "end_index": start + results.len().saturating_sub(1),
        },
        "results": results,
        "autocomplete": {},
    }))
    .into_response()
}

/// DRF's 404.
fn not_found(model: &str) -> Response {
    let detail = format!("No {model} matches the given query.");
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "detail": detail })),
    )
        .into_response()
}

/// DRF's 400 with field errors.
fn refuse(fields: Vec<(&str, String)>) -> Response {
    let mut body = Map::new();
    for (field, message) in fields {
        body.entry(field)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .unwrap()
            .push(Value::String(message));
    }
    (StatusCode::BAD_REQUEST, axum::Json(Value::Object(body))).into_response()
}

/// The JSON object body, or DRF's parse error.
fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"non_field_errors": ["Invalid data. Expected a dictionary."]})),
        )
            .into_response()),
    }
}

/// The schema's `required` list: each missing (or null) field is "This field is required.",
/// and an empty string where the schema says `minLength: 1` "This field may not be blank.".
fn require(
    body: &Map<String, Value>,
    required: &[&str],
    non_blank: &[&str],
) -> Result<(), Response> {
    let mut errors = Vec::new();
    for field in required {
        if body.get(*field).is_none_or(Value::is_null) {
            errors.push((*field, "This field is required.".to_owned()));
        }
    }
    for field in non_blank {
        if body.get(*field).and_then(Value::as_str) == Some("") {
            errors.push((*field, "This field may not be blank.".to_owned()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(refuse(errors))
    }
}

fn created(value: Value) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
