//! Users and space grants (`/users`, `/root/permissions`, `/root/invite`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{SPACE_ROLES, Shared, object, odata, uuid};

/// `user` requires `displayName` and `onPremisesSamAccountName` (older oCIS also `mail`, see
/// [`super::OcisState::require_mail`]); fields outside the spec's `user` and a client-chosen
/// `id` are refused by the contract check (oCIS's StrictJSONUnmarshal); a taken name is a 409.
pub(super) async fn create_user(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let mut required = vec!["displayName", "onPremisesSamAccountName"];
    if state.lock().unwrap().require_mail {
        required.push("mail");
    }
    for required in required {
        if body
            .get(required)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return odata(
                400,
                "invalidRequest",
                &format!("missing required Attribute: '{required}'"),
            );
        }
    }
    let name = body["onPremisesSamAccountName"]
        .as_str()
        .unwrap()
        .to_owned();
    if let Some(mail) = body.get("mail").and_then(Value::as_str)
        && !mail.contains('@')
    {
        return odata(
            400,
            "invalidRequest",
            &format!("'{mail}' is not a valid email address"),
        );
    }
    let mut s = state.lock().unwrap();
    if s.users
        .values()
        .any(|u| u["onPremisesSamAccountName"] == name.as_str())
    {
        return odata(
            409,
            "nameAlreadyExists",
            "a user with this name already exists",
        );
    }
    let id = uuid();
    let mut user = json!({"id": id, "displayName": body["displayName"], "onPremisesSamAccountName": name,
        "mail": body.get("mail").cloned().unwrap_or(json!("")), "accountEnabled": true, "userType": "Member"});
    for field in ["identities", "externalID", "surname", "givenName"] {
        if let Some(value) = body.get(field) {
            user[field] = value.clone();
        }
    }
    if let Some(password) = body
        .get("passwordProfile")
        .and_then(|p| p["password"].as_str())
    {
        s.passwords.insert(id.clone(), password.to_owned());
    }
    s.users.insert(id, user.clone());
    let shown = shown_user(&s, &user);
    (StatusCode::CREATED, axum::Json(shown)).into_response()
}

/// Newer oCIS leaves `mail` out of its answers unless configured to show it.
fn shown_user(s: &super::OcisState, user: &Value) -> Value {
    let mut user = user.clone();
    if !s.show_mail {
        user.as_object_mut().unwrap().remove("mail");
    }
    user
}

/// `{user-id}` is the id or the name of a user.
pub(super) async fn get_user(State(state): State<Shared>, Path(key): Path<String>) -> Response {
    let s = state.lock().unwrap();
    let found = s.users.get(&key).or_else(|| {
        s.users
            .values()
            .find(|u| u["onPremisesSamAccountName"] == key.as_str())
    });
    match found {
        Some(user) => axum::Json(shown_user(&s, user)).into_response(),
        None => odata(404, "itemNotFound", "user not found"),
    }
}

/// `userUpdate`: only `accountEnabled` (and the names) are applied here; an unknown user is a
/// 404 `itemNotFound`. Fields outside the spec are refused by the contract check.
pub(super) async fn patch_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Some(enabled) = body.get("accountEnabled")
        && !enabled.is_boolean()
    {
        return odata(400, "invalidRequest", "accountEnabled must be a boolean");
    }
    let mut s = state.lock().unwrap();
    let Some(user) = s.users.get_mut(&id) else {
        return odata(404, "itemNotFound", "user not found");
    };
    for field in ["accountEnabled", "displayName", "mail"] {
        if let Some(value) = body.get(field) {
            user[field] = value.clone();
        }
    }
    let user = user.clone();
    let shown = shown_user(&s, &user);
    axum::Json(shown).into_response()
}

pub(super) async fn delete_user(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut s = state.lock().unwrap();
    if s.users.remove(&id).is_none() {
        return odata(404, "itemNotFound", "user not found");
    }
    s.grants
        .retain(|(_, g)| g["grantedToV2"]["user"]["id"] != id.as_str());
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn list_permissions(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    let s = state.lock().unwrap();
    if !s.drives.contains_key(&id) {
        return odata(404, "itemNotFound", "drive not found");
    }
    let value: Vec<Value> = s
        .grants
        .iter()
        .filter(|(d, _)| *d == id)
        .map(|(_, g)| g.clone())
        .collect();
    axum::Json(json!({
        "@libre.graph.permissions.roles.allowedValues": SPACE_ROLES.iter()
            .map(|r| json!({"id": r})).collect::<Vec<_>>(),
        "value": value,
    }))
    .into_response()
}

fn check_roles(roles: &Value) -> Result<String, Response> {
    match roles.as_array().map(Vec::as_slice) {
        Some([role]) if role.as_str().is_some_and(|r| SPACE_ROLES.contains(&r)) => {
            Ok(role.as_str().unwrap().to_owned())
        }
        _ => Err(odata(
            400,
            "invalidRequest",
            "role not applicable to this resource",
        )),
    }
}

/// `driveItemInvite` on a space root: `recipients` (each with `objectId`) and `roles`.
pub(super) async fn invite(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let role = match check_roles(body.get("roles").unwrap_or(&Value::Null)) {
        Ok(role) => role,
        Err(refused) => return refused,
    };
    let recipients = body
        .get("recipients")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if recipients.is_empty() || recipients.iter().any(|r| r["objectId"].as_str().is_none()) {
        return odata(400, "invalidRequest", "missing recipients");
    }
    let mut s = state.lock().unwrap();
    if !s.drives.contains_key(&id) {
        return odata(404, "itemNotFound", "drive not found");
    }
    let mut created = Vec::new();
    for recipient in recipients {
        let user_id = recipient["objectId"].as_str().unwrap();
        let Some(user) = s.users.get(user_id) else {
            return odata(404, "itemNotFound", "user not found");
        };
        if s.grants
            .iter()
            .any(|(d, g)| *d == id && g["grantedToV2"]["user"]["id"] == user_id)
        {
            return odata(409, "nameAlreadyExists", "the user is already a member");
        }
        let grant = json!({"id": uuid(), "roles": [role],
            "grantedToV2": {"user": {"id": user_id, "displayName": user["displayName"]}}});
        created.push(grant.clone());
        s.grants.push((id.clone(), grant));
    }
    axum::Json(json!({ "value": created })).into_response()
}

pub(super) async fn patch_permission(
    State(state): State<Shared>,
    Path((id, perm)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let role = match check_roles(body.get("roles").unwrap_or(&Value::Null)) {
        Ok(role) => role,
        Err(refused) => return refused,
    };
    let mut s = state.lock().unwrap();
    let Some((_, grant)) = s
        .grants
        .iter_mut()
        .find(|(d, g)| *d == id && g["id"] == perm.as_str())
    else {
        return odata(404, "itemNotFound", "permission not found");
    };
    grant["roles"] = json!([role]);
    axum::Json(grant.clone()).into_response()
}

/// `DeletePermissionSpaceRoot`: 204, or 404 `itemNotFound` for an unknown drive or permission.
pub(super) async fn delete_permission(
    State(state): State<Shared>,
    Path((id, perm)): Path<(String, String)>,
) -> Response {
    let mut s = state.lock().unwrap();
    if !s.drives.contains_key(&id) {
        return odata(404, "itemNotFound", "drive not found");
    }
    let before = s.grants.len();
    s.grants
        .retain(|(d, g)| !(*d == id && g["id"] == perm.as_str()));
    if s.grants.len() == before {
        return odata(404, "itemNotFound", "permission not found");
    }
    StatusCode::NO_CONTENT.into_response()
}
