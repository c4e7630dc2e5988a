//! Groups, users, sessions and authenticators.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, created, not_found, object, paginate, query_value, refuse, require, uuid};
use crate::support::fakes::pairs;

fn query(raw: Option<String>) -> Vec<(String, String)> {
    pairs(raw.as_deref().unwrap_or(""))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub async fn list_groups(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .groups
        .values()
        .filter(|g| query_value(&q, "name").is_none_or(|n| g["name"] == n))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `GroupRequest`: `name` required, `minLength: 1`; names are unique.
pub async fn create_group(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["name"], &["name"]) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    if s.groups.values().any(|g| g["name"] == body["name"]) {
        return refuse(vec![(
            "name",
            "group with this name already exists.".into(),
        )]);
    }
    let pk = uuid();
    let num_pk = s.pk();
    let group = json!({
        "pk": pk, "num_pk": num_pk, "name": body["name"], "is_superuser": false,
        "parent": null, "parent_name": null, "users": body.get("users").cloned().unwrap_or(json!([])),
        "users_obj": null, "attributes": body.get("attributes").cloned().unwrap_or(json!({})),
        "roles": [], "roles_obj": [], "children": [], "children_obj": [],
    });
    s.groups.insert(pk, group.clone());
    created(group)
}

pub async fn get_group(State(state): State<Shared>, Path(pk): Path<String>) -> Response {
    match state.lock().unwrap().groups.get(&pk) {
        Some(group) => axum::Json(group.clone()).into_response(),
        None => not_found("Group"),
    }
}

pub async fn delete_group(State(state): State<Shared>, Path(pk): Path<String>) -> Response {
    match state.lock().unwrap().groups.remove(&pk) {
        Some(_) => no_content(),
        None => not_found("Group"),
    }
}

/// `add_user` / `remove_user` with `UserAccountRequest` (`pk` required): 204, or 404.
pub async fn membership(
    State(state): State<Shared>,
    Path((pk, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["pk"], &[]) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    let user = body["pk"].as_i64().unwrap_or(-1);
    if !s.users.contains_key(&user) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"detail": "User not found"})),
        )
            .into_response();
    }
    let Some(group) = s.groups.get_mut(&pk) else {
        return not_found("Group");
    };
    let members = group["users"].as_array_mut().unwrap();
    members.retain(|m| m.as_i64() != Some(user));
    match action.as_str() {
        "add_user" => members.push(json!(user)),
        "remove_user" => {}
        _ => return not_found("action"),
    }
    no_content()
}

pub async fn list_users(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .users
        .values()
        .filter(|u| query_value(&q, "username").is_none_or(|n| u["username"] == n))
        .filter(|u| query_value(&q, "email").is_none_or(|e| u["email"] == e))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `UserRequest`: `username` (1–150) and `name` required; no password field.
pub async fn create_user(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["username", "name"], &["username"]) {
        return refused;
    }
    if let Some(refused) = check_user_fields(&body) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    if s.users.values().any(|u| u["username"] == body["username"]) {
        return refuse(vec![(
            "username",
            "user with this username already exists.".into(),
        )]);
    }
    let pk = s.pk();
    let user = json!({
        "pk": pk, "uuid": uuid(), "uid": format!("{:064x}", pk), "username": body["username"],
        "name": body["name"], "email": body.get("email").cloned().unwrap_or(json!("")),
        "is_active": body.get("is_active").cloned().unwrap_or(json!(true)),
        "is_superuser": false, "groups": [], "groups_obj": null, "avatar": "",
        "attributes": body.get("attributes").cloned().unwrap_or(json!({})),
        "path": body.get("path").cloned().unwrap_or(json!("users")), "type": "internal",
        "date_joined": "2025-11-01T00:00:00Z", "last_updated": "2025-11-01T00:00:00Z",
        "password_change_date": "2025-11-01T00:00:00Z", "last_login": null,
    });
    s.users.insert(pk, user.clone());
    created(user)
}

fn check_user_fields(body: &serde_json::Map<String, Value>) -> Option<Response> {
    if let Some(name) = body.get("username").and_then(Value::as_str)
        && name.chars().count() > 150
    {
        return Some(refuse(vec![(
            "username",
            "Ensure this field has no more than 150 characters.".into(),
        )]));
    }
    if let Some(email) = body.get("email").and_then(Value::as_str)
        && !email.is_empty()
        && !email.contains('@')
    {
        return Some(refuse(vec![(
            "email",
            "Enter a valid email address.".into(),
        )]));
    }
    if let Some(active) = body.get("is_active")
        && !active.is_boolean()
    {
        return Some(refuse(vec![(
            "is_active",
            "Must be a valid boolean.".into(),
        )]));
    }
    None
}

/// `GET /core/users/me/`: the token's own user (`SessionUser`), the adapter's probe.
pub async fn me() -> Response {
    axum::Json(json!({ "user": {
        "pk": 1, "username": "dezky-control-plane", "name": "Dezky control plane",
        "is_active": true, "is_superuser": true, "groups": [], "email": "",
        "avatar": "", "uid": "c0ffee", "settings": {}, "type": "service_account",
        "system_permissions": []
    }}))
    .into_response()
}

pub async fn get_user(State(state): State<Shared>, Path(pk): Path<i64>) -> Response {
    match state.lock().unwrap().users.get(&pk) {
        Some(user) => axum::Json(user.clone()).into_response(),
        None => not_found("User"),
    }
}

/// `PatchedUserRequest`: every field optional, same constraints.
pub async fn patch_user(State(state): State<Shared>, Path(pk): Path<i64>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Some(refused) = check_user_fields(&body) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    let Some(user) = s.users.get_mut(&pk) else {
        return not_found("User");
    };
    for field in [
        "username",
        "name",
        "email",
        "is_active",
        "attributes",
        "path",
    ] {
        if let Some(value) = body.get(field) {
            user[field] = value.clone();
        }
    }
    axum::Json(user.clone()).into_response()
}

pub async fn delete_user(State(state): State<Shared>, Path(pk): Path<i64>) -> Response {
    let mut s = state.lock().unwrap();
    if s.users.remove(&pk).is_none() {
        return not_found("User");
    }
    s.sessions.retain(|x| x["user"] != pk);
    s.devices.retain(|x| x["user"] != pk);
    for group in s.groups.values_mut() {
        group["users"].as_array_mut().unwrap().retain(|m| *m != pk);
    }
    no_content()
}

/// `UserPasswordSetRequest`: `password` required, `minLength: 1`; 204.
pub async fn set_password(
    State(state): State<Shared>,
    Path(pk): Path<i64>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["password"], &["password"]) {
        return refused;
    }
    let mut s = state.lock().unwrap();
    if !s.users.contains_key(&pk) {
        return not_found("User");
    }
    let password = body["password"].as_str().unwrap_or_default().to_owned();
    s.passwords.insert(pk, password);
    no_content()
}

/// The only user filter is `user__username`.
pub async fn list_sessions(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let username = query_value(&q, "user__username");
    let items = s
        .sessions
        .iter()
        .filter(|session| {
            s.ignore_session_filter
                || username.is_none_or(|name| {
                    s.users
                        .get(&session["user"].as_i64().unwrap_or(-1))
                        .is_some_and(|u| u["username"] == name)
                })
        })
        .cloned()
        .collect();
    paginate(items, &q)
}

pub async fn delete_session(State(state): State<Shared>, Path(pk): Path<String>) -> Response {
    let mut s = state.lock().unwrap();
    let before = s.sessions.len();
    s.sessions.retain(|x| x["uuid"] != pk.as_str());
    if s.sessions.len() == before {
        return not_found("AuthenticatedSession");
    }
    no_content()
}

/// A plain array of `Device` (not paginated).
pub async fn all_authenticators(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let user: Option<i64> = query_value(&q, "user").and_then(|u| u.parse().ok());
    let s = state.lock().unwrap();
    let devices: Vec<Value> = s
        .devices
        .iter()
        .filter(|d| user.is_none_or(|u| d["user"] == u))
        .cloned()
        .collect();
    axum::Json(devices).into_response()
}
