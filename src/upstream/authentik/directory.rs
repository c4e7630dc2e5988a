//! Groups, users, sessions and authenticators (`core/*`, `authenticators/admin/all`).

use serde_json::{Value, json};

use super::http::{API, HttpAuthentikClient, uuid_segment};
use super::*;
use crate::upstream::transport::Request;

pub(super) async fn ensure_tenant_group(
    client: &HttpAuthentikClient,
    group: &TenantGroup,
) -> Result<Group, AuthentikError> {
    let name = group.tenant_slug.as_str();
    let filters = [("name", name), ("include_users", "false")];
    let found: Vec<Group> = client.list("/core/groups/", &filters, "group").await?;
    if let Some(existing) = found.into_iter().find(|g| g.name == name) {
        let owner = existing
            .attributes
            .get(TENANT_ID_ATTRIBUTE)
            .and_then(Value::as_str);
        return if owner == Some(group.tenant_id.as_str()) {
            Ok(existing)
        } else {
            Err(AuthentikError::Conflict(format!(
                "an Authentik group named {name:?} exists and does not belong to this tenant"
            )))
        };
    }
    let body = json!({
        "name": name,
        "attributes": {
            TENANT_ID_ATTRIBUTE: group.tenant_id,
            TENANT_SLUG_ATTRIBUTE: group.tenant_slug,
        },
    });
    let create = Request::post(format!("{API}/core/groups/")).json(&body);
    client.json(create, "group").await
}

pub(super) async fn ensure_partner_group(
    client: &HttpAuthentikClient,
    group: &PartnerGroup,
) -> Result<Group, AuthentikError> {
    let name = group.name();
    let filters = [("name", name.as_str()), ("include_users", "false")];
    let found: Vec<Group> = client.list("/core/groups/", &filters, "group").await?;
    if let Some(existing) = found.into_iter().find(|g| g.name == name) {
        let owner = existing
            .attributes
            .get(PARTNER_ID_ATTRIBUTE)
            .and_then(Value::as_str);
        return if owner == Some(group.partner_id.as_str()) {
            Ok(existing)
        } else {
            Err(AuthentikError::Conflict(format!(
                "an Authentik group named {name:?} exists and does not belong to this partner"
            )))
        };
    }
    let body = json!({
        "name": name,
        "attributes": {
            PARTNER_ID_ATTRIBUTE: group.partner_id,
            PARTNER_SLUG_ATTRIBUTE: group.partner_slug,
        },
    });
    let create = Request::post(format!("{API}/core/groups/")).json(&body);
    client.json(create, "group").await
}

pub(super) async fn user(
    client: &HttpAuthentikClient,
    user_pk: i64,
) -> Result<User, AuthentikError> {
    let request = Request::get(format!("{API}/core/users/{user_pk}/"));
    client.json(request, "user").await
}

pub(super) async fn delete_group(
    client: &HttpAuthentikClient,
    group_pk: &str,
) -> Result<(), AuthentikError> {
    let pk = uuid_segment(group_pk)?;
    client.delete(format!("/core/groups/{pk}/"), "group").await
}

pub(super) async fn ensure_user(
    client: &HttpAuthentikClient,
    user: &NewUser,
) -> Result<User, AuthentikError> {
    let filters = [
        ("username", user.username.as_str()),
        ("include_groups", "false"),
    ];
    let found: Vec<User> = client.list("/core/users/", &filters, "user").await?;
    if let Some(existing) = found.into_iter().find(|u| u.username == user.username) {
        return Ok(existing);
    }
    let create = Request::post(format!("{API}/core/users/")).json(user);
    client.json(create, "user").await
}

/// PATCH with absolute values, so repeating it is harmless (and retried).
pub(super) async fn patch_user(
    client: &HttpAuthentikClient,
    user_pk: i64,
    body: &Value,
) -> Result<User, AuthentikError> {
    let patch = Request::patch(format!("{API}/core/users/{user_pk}/"))
        .json(body)
        .retry_safe();
    client.json(patch, "user").await
}

pub(super) async fn delete_user(
    client: &HttpAuthentikClient,
    user_pk: i64,
) -> Result<(), AuthentikError> {
    client
        .delete(format!("/core/users/{user_pk}/"), "user")
        .await
}

/// `add_user` / `remove_user`: 204, or 404 "User not found". Both end in the same state
/// when repeated, so they are retried.
pub(super) async fn membership(
    client: &HttpAuthentikClient,
    group_pk: &str,
    user_pk: i64,
    action: &str,
) -> Result<(), AuthentikError> {
    let pk = uuid_segment(group_pk)?;
    let request = Request::post(format!("{API}/core/groups/{pk}/{action}/"))
        .json(&json!({ "pk": user_pk }))
        .retry_safe();
    client.send(request, "group or user").await.map(drop)
}

pub(super) async fn set_password(
    client: &HttpAuthentikClient,
    user_pk: i64,
    password: &Secret,
) -> Result<(), AuthentikError> {
    let request = Request::post(format!("{API}/core/users/{user_pk}/set_password/"))
        .json(&json!({ "password": password.expose() }))
        .retry_safe();
    client.send(request, "user").await.map(drop)
}

pub(super) async fn list_sessions(
    client: &HttpAuthentikClient,
    user: &UserRef,
) -> Result<Vec<Session>, AuthentikError> {
    let filters = [("user__username", user.username.as_str())];
    let listed: Vec<Session> = client
        .list("/core/authenticated_sessions/", &filters, "session")
        .await?;
    let total = listed.len();
    let own: Vec<Session> = listed.into_iter().filter(|s| s.user == user.pk).collect();
    if own.len() != total {
        tracing::warn!(
            dropped = total - own.len(),
            "the session list held other users' sessions; ignored them"
        );
    }
    Ok(own)
}

pub(super) async fn terminate_sessions(
    client: &HttpAuthentikClient,
    user: &UserRef,
) -> Result<usize, AuthentikError> {
    let sessions = list_sessions(client, user).await?;
    for session in &sessions {
        let uuid = uuid_segment(&session.uuid)?;
        client
            .delete(format!("/core/authenticated_sessions/{uuid}/"), "session")
            .await?;
    }
    Ok(sessions.len())
}

/// `authenticators/admin/all/?user=<pk>` answers a plain array (not paginated).
pub(super) async fn count_authenticators(
    client: &HttpAuthentikClient,
    user_pk: i64,
) -> Result<usize, AuthentikError> {
    let request =
        Request::get(format!("{API}/authenticators/admin/all/")).query("user", user_pk.to_string());
    let devices: Vec<Value> = client.json(request, "user").await?;
    Ok(devices.len())
}

/// One row of `authenticators/admin/all/` (Authentik's `Device`).
#[derive(serde::Deserialize)]
struct DeviceWire {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default = "confirmed_by_default")]
    confirmed: bool,
}

fn confirmed_by_default() -> bool {
    true
}

/// The user's confirmed authenticators, counted by type (`type` of the `Device` rows, e.g.
/// `authentik_stages_authenticator_totp.totpdevice`), sorted by type.
pub(super) async fn authenticators_by_type(
    client: &HttpAuthentikClient,
    user_pk: i64,
) -> Result<Vec<AuthenticatorCount>, AuthentikError> {
    let request =
        Request::get(format!("{API}/authenticators/admin/all/")).query("user", user_pk.to_string());
    let devices: Vec<DeviceWire> = client.json(request, "user").await?;
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for device in devices.into_iter().filter(|d| d.confirmed) {
        *counts.entry(device.kind).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|(kind, count)| AuthenticatorCount { kind, count })
        .collect())
}
