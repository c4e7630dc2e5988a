//! An oCIS (libregraph v1.0) fake: Bearer or Basic auth (else 401 `unauthenticated`),
//! OData errors `{"error": {"code", "message", "innererror": {"date", "request-id"}}}`,
//! project drives with quota state, users, and space invitations with unified roles.
//!
//! Checks from the libregraph v1.0.4 spec (`../shared/upstream-specs/libregraph-v1.0-openapi.yaml`:
//! `drive` requires `name`, `user` requires `displayName` and `onPremisesSamAccountName`,
//! `driveItemInvite` has `recipients` + `roles`) and from oCIS's `drives.go`/`users.go`
//! (`driveType` empty or `project`, a maximum quota, strict user JSON, no client `id`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Map, Value, json};

use super::{Fake, pairs};

mod members;

use members::*;

/// The bearer token the fake accepts.
pub const TOKEN: &str = "ocis-fake-token-Pq9Wx8";
/// The Basic-auth user the fake accepts.
pub const ADMIN: &str = "admin";
/// That user's (app) password.
pub const ADMIN_PASSWORD: &str = "ocis-admin-app-pw-Zz1";
/// The largest project quota the fake allows (`exceeding maximum drive quota`).
pub const MAX_QUOTA: u64 = 1 << 40;
/// The unified role ids that apply to a space root.
const SPACE_ROLES: [&str; 3] = [
    "a8d5fe5e-96e3-418d-825b-534dbdf22b99",
    "58c63c02-1d89-4572-916a-870abc5a1b7d",
    "312c0871-5ef7-4b3a-85b6-0e4074c64049",
];

/// The fake's spaces, users and grants.
#[derive(Default)]
pub struct OcisState {
    /// Drives by id.
    pub drives: BTreeMap<String, Value>,
    /// Users by id.
    pub users: BTreeMap<String, Value>,
    /// Passwords by user id.
    pub passwords: BTreeMap<String, String>,
    /// Grants on space roots: (drive id, permission).
    pub grants: Vec<(String, Value)>,
    /// Behave like older oCIS: a user without `mail` is refused (400 "missing required
    /// Attribute: 'mail'").
    pub require_mail: bool,
    /// Answer users with their `mail` (newer oCIS leaves it out unless configured to show it).
    pub show_mail: bool,
    /// Our account lacks the create-space permission (older oCIS: 401 `notAllowed`).
    pub deny_create_space: bool,
    /// Our account lacks the set-space-quota permission (older oCIS: 401 `notAllowed`).
    pub deny_set_quota: bool,
}

impl OcisState {
    /// Adds a project drive with a quota of `total` bytes, `used` of them used; returns its
    /// id.
    pub fn add_drive(&mut self, name: &str, total: u64, used: u64) -> String {
        let id = format!("storage-users-1${}", uuid());
        let drive = json!({
            "id": id, "name": name, "driveType": "project",
            "driveAlias": format!("project/{}", name.to_lowercase()),
            "description": "",
            "lastModifiedDateTime": "2025-11-23T12:00:00Z",
            "owner": {"user": {"id": "space-admin", "displayName": "Space Admin"}},
            "root": {"id": id, "webDavUrl": format!("https://cloud.example/dav/spaces/{id}"), "permissions": []},
            "quota": quota_of(total, used),
        });
        self.drives.insert(id.clone(), drive);
        id
    }

    /// Sets a drive's used bytes (and recomputes the quota).
    pub fn set_used(&mut self, drive: &str, used: u64) {
        let quota = &mut self.drives.get_mut(drive).expect("a drive")["quota"];
        let total = quota["total"].as_u64().unwrap_or(0);
        *quota = quota_of(total, used);
    }
}

type Shared = Arc<Mutex<OcisState>>;

/// `GET /graph/v1.0/me`: the authenticated account (the adapter's probe).
async fn me() -> Response {
    axum::Json(json!({
        "id": "4c510ada-c86b-4815-8820-42cdf82c3d51",
        "displayName": "Admin",
        "onPremisesSamAccountName": ADMIN,
        "mail": "admin@example.org"
    }))
    .into_response()
}

/// Starts the fake.
pub async fn spawn() -> Fake<OcisState> {
    let router = Router::new()
        .route("/graph/v1.0/drives", get(list_drives).post(create_drive))
        .route("/graph/v1.0/drives/{id}", get(get_drive).patch(patch_drive))
        .route("/graph/v1.0/me", get(me))
        .route("/graph/v1.0/users", post(create_user))
        .route(
            "/graph/v1.0/users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route(
            "/graph/v1beta1/drives/{id}/root/permissions",
            get(list_permissions),
        )
        .route(
            "/graph/v1beta1/drives/{id}/root/permissions/{perm}",
            patch(patch_permission).delete(delete_permission),
        )
        .route("/graph/v1beta1/drives/{id}/root/invite", post(invite))
        .layer(middleware::from_fn(authenticate));
    let options = super::Options {
        contract: Some(&super::contract::LIBREGRAPH),
        rules: None,
        refusal: Some(|status, message, _| odata(status, "invalidRequest", message)),
        interceptor: None,
    };
    super::spawn_with(
        router,
        OcisState::default(),
        |status| odata(status, "serviceNotAvailable", "injected fault"),
        options,
    )
    .await
}

/// The OData error shape (`errorcode.go`).
fn odata(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innererror": {"date": "2025-11-23T12:00:00Z", "request-id": uuid()}}});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
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
    if header == format!("Bearer {TOKEN}") || header == format!("Basic {basic}") {
        return next.run(request).await;
    }
    odata(401, "unauthenticated", "Unauthorized")
}

/// `state` per `calculateQuotaState`: ≤75 % normal, ≤90 % nearing, ≤99 % critical.
fn quota_of(total: u64, used: u64) -> Value {
    let remaining = total.saturating_sub(used);
    let base = if total == 0 { remaining.max(1) } else { total };
    let percent = used as f64 * 100.0 / base as f64;
    let state = match percent {
        p if p <= 75.0 => "normal",
        p if p <= 90.0 => "nearing",
        p if p <= 99.0 => "critical",
        _ => "exceeded",
    };
    json!({"total": total, "used": used, "remaining": remaining, "deleted": 0, "state": state})
}

fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(odata(
            400,
            "invalidRequest",
            "invalid body schema definition",
        )),
    }
}

/// `$filter`: `driveType eq '…'` and `id eq '…'` terms joined by `and` or `or` (what oCIS's
/// drives filter understands).
async fn list_drives(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = pairs(raw.as_deref().unwrap_or(""));
    let filter = q
        .iter()
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.as_str());
    let clauses = match filter.map(parse_filter).transpose() {
        Ok(clauses) => clauses,
        Err(other) => {
            return odata(
                400,
                "invalidRequest",
                &format!("unsupported filter {other}"),
            );
        }
    };
    let s = state.lock().unwrap();
    let value: Vec<Value> = s
        .drives
        .values()
        .filter(|d| {
            clauses.as_ref().is_none_or(|(any, terms)| {
                let hit = |(field, value): &(String, String)| d[field.as_str()] == value.as_str();
                if *any {
                    terms.iter().any(hit)
                } else {
                    terms.iter().all(hit)
                }
            })
        })
        .cloned()
        .collect();
    axum::Json(json!({ "value": value })).into_response()
}

/// `driveType eq 'project' and id eq 'x'` → (is `or`, [(field, value)]).
fn parse_filter(filter: &str) -> Result<(bool, Vec<(String, String)>), String> {
    let any = filter.contains(" or ");
    let separator = if any { " or " } else { " and " };
    let mut terms = Vec::new();
    for term in filter.split(separator) {
        let parts: Vec<&str> = term.trim().splitn(3, ' ').collect();
        match parts.as_slice() {
            [field @ ("driveType" | "id"), "eq", value]
                if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') =>
            {
                terms.push(((*field).to_owned(), value[1..value.len() - 1].to_owned()));
            }
            _ => return Err(filter.to_owned()),
        }
    }
    Ok((any, terms))
}

/// A drive id is `<storage id>$<space id>`; anything else cannot be parsed (422).
fn parse_drive_id(id: &str) -> Result<(), Response> {
    match id.split_once('$') {
        Some((storage, space)) if !storage.is_empty() && !space.is_empty() => Ok(()),
        _ => Err(odata(422, "invalidRequest", "invalid driveID or itemID")),
    }
}

/// `drive` requires `name`; `driveType` must be empty or `project`; quota capped.
async fn create_drive(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if state.lock().unwrap().deny_create_space {
        return odata(
            401,
            "notAllowed",
            "insufficient permissions to create a space.",
        );
    }
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return odata(400, "invalidRequest", "invalid name");
    };
    let kind = body.get("driveType").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "" | "project") {
        return odata(
            400,
            "invalidRequest",
            &format!("drives of type {kind} cannot be created via this api"),
        );
    }
    let total = body["quota"]["total"].as_u64().unwrap_or(MAX_QUOTA / 1024);
    if total > MAX_QUOTA {
        return odata(400, "invalidRequest", "exceeding maximum drive quota");
    }
    let id = format!("storage-users-1${}", uuid());
    let drive = json!({
        "id": id, "name": name, "driveType": "project",
        "driveAlias": format!("project/{}", name.to_lowercase()),
        "description": body.get("description").cloned().unwrap_or(json!("")),
        "lastModifiedDateTime": "2025-11-23T12:00:00Z",
        "owner": {"user": {"id": "space-admin", "displayName": "Space Admin"}},
        "root": {"id": id, "webDavUrl": format!("https://cloud.example/dav/spaces/{id}"), "permissions": []},
        "quota": quota_of(total, 0),
    });
    state.lock().unwrap().drives.insert(id, drive.clone());
    (StatusCode::CREATED, axum::Json(drive)).into_response()
}

async fn get_drive(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if let Err(refused) = parse_drive_id(&id) {
        return refused;
    }
    match state.lock().unwrap().drives.get(&id) {
        Some(drive) => axum::Json(drive.clone()).into_response(),
        None => odata(404, "itemNotFound", "drive not found"),
    }
}

async fn patch_drive(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = parse_drive_id(&id) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    if body.contains_key("quota") && s.deny_set_quota {
        return odata(
            401,
            "notAllowed",
            "user is not allowed to set the space quota",
        );
    }
    let Some(drive) = s.drives.get_mut(&id) else {
        return odata(404, "itemNotFound", "drive not found");
    };
    if let Some(total) = body.get("quota").map(|q| q["total"].as_u64()) {
        let Some(total) = total.filter(|t| *t <= MAX_QUOTA) else {
            return odata(400, "invalidRequest", "exceeding maximum drive quota");
        };
        let used = drive["quota"]["used"].as_u64().unwrap_or(0);
        drive["quota"] = quota_of(total, used);
    }
    for field in ["name", "description"] {
        if let Some(value) = body.get(field) {
            drive[field] = value.clone();
        }
    }
    axum::Json(drive.clone()).into_response()
}
