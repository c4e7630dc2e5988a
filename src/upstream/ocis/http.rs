//! The reqwest implementation of [`OcisClient`].

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;
use crate::upstream::config::{HttpSettings, OcisConfig};
use crate::upstream::transport::{Request, Response, Transport};

/// oCIS over HTTPS with a bearer token or Basic credentials.
#[derive(Debug)]
pub struct HttpOcisClient {
    transport: Transport,
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveWire {
    id: String,
    name: String,
    #[serde(default)]
    drive_type: String,
    #[serde(default)]
    quota: Option<Quota>,
    #[serde(default)]
    root: Value,
}

impl DriveWire {
    /// Disabled (trashed) spaces carry `root.deleted.state`.
    fn is_disabled(&self) -> bool {
        !self.root["deleted"]["state"].is_null()
    }
}

impl From<DriveWire> for Space {
    fn from(d: DriveWire) -> Self {
        Self {
            id: d.id,
            name: d.name,
            quota: d.quota.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserWire {
    id: String,
    on_premises_sam_account_name: String,
    display_name: String,
    mail: Option<String>,
}

impl From<UserWire> for User {
    fn from(u: UserWire) -> Self {
        Self {
            id: u.id,
            username: u.on_premises_sam_account_name,
            display_name: u.display_name,
            mail: u.mail.filter(|m| !m.is_empty()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionWire {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    granted_to_v2: Value,
}

impl HttpOcisClient {
    /// A client for the configured server and credentials.
    pub fn new(config: &OcisConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            transport: Transport::new("ocis", &config.url, config.credentials.clone(), http)?,
        })
    }

    async fn send(&self, request: Request, what: &'static str) -> Result<Response, OcisError> {
        let response = self.transport.send(request).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(error_from(&response, what))
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        request: Request,
        what: &'static str,
    ) -> Result<T, OcisError> {
        Ok(self.send(request, what).await?.json()?)
    }

    /// The user's own grant on a space root (`ListPermissionsSpaceRoot`), if any.
    async fn grant_of(
        &self,
        root: &str,
        user_id: &str,
    ) -> Result<Option<PermissionWire>, OcisError> {
        let listed: Collection<PermissionWire> = self
            .json(Request::get(format!("{root}/permissions")), "space")
            .await?;
        Ok(listed
            .value
            .into_iter()
            .find(|p| p.granted_to_v2["user"]["id"] == user_id))
    }

    async fn drive(&self, id: &str) -> Result<DriveWire, OcisError> {
        let path = format!("/graph/v1.0/drives/{}", segment(id)?);
        self.json(Request::get(path), "space").await
    }

    /// Sets `quota.total` when it differs (an absolute value: retry-safe).
    async fn with_quota(&self, drive: DriveWire, total: u64) -> Result<Space, OcisError> {
        if drive.quota.as_ref().is_some_and(|q| q.total == total) {
            return Ok(drive.into());
        }
        let path = format!("/graph/v1.0/drives/{}", segment(&drive.id)?);
        let patch = Request::patch(path)
            .json(&json!({ "quota": { "total": total } }))
            .retry_safe();
        let updated: DriveWire = self.json(patch, "space").await?;
        Ok(updated.into())
    }
}

/// Reads the OData error shape. 401 is refused credentials — unless it carries an OData
/// `notAllowed`/`accessDenied` body, which is how older oCIS answers a missing create-space or
/// set-quota permission (drives.go). 403 is a missing permission, 422 an id oCIS cannot parse.
fn error_from(response: &Response, what: &'static str) -> OcisError {
    let body: Value = response.json().unwrap_or_default();
    let odata_code = body["error"]["code"].as_str().unwrap_or_default();
    let permission = matches!(odata_code, "notAllowed" | "accessDenied");
    if !(response.code() == 401 && permission)
        && let Some(err) = response.common_error()
    {
        return err.into();
    }
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match (response.code(), code.as_str()) {
        (404, _) | (_, "itemNotFound") => OcisError::NotFound { what },
        (409, _) | (_, "nameAlreadyExists") => OcisError::AlreadyExists { what },
        (401 | 403, _) => OcisError::Denied { code, message },
        (422, _) => OcisError::InvalidId { what, message },
        (400, _) => match missing_attribute(&message) {
            Some(attribute) => OcisError::MissingAttribute { attribute, message },
            None => OcisError::Invalid { code, message },
        },
        (status, _) => CallError::Unexpected {
            status,
            detail: format!("OData error {code:?}"),
        }
        .into(),
    }
}

/// `missing required Attribute: 'mail'` → `mail`.
fn missing_attribute(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing required Attribute: ")?;
    Some(rest.trim_matches(|c| c == '\'' || c == '"').to_owned())
}

/// Ids and login names in paths: drive ids hold `$`; nothing may add a path segment.
fn segment(value: &str) -> Result<&str, OcisError> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.$!@:".contains(&b));
    if ok {
        Ok(value)
    } else {
        Err(OcisError::Invalid {
            code: "invalidRequest".into(),
            message: "not a valid id".into(),
        })
    }
}

#[async_trait]
impl OcisClient for HttpOcisClient {
    #[tracing::instrument(name = "ocis.probe", skip_all)]
    async fn probe(&self) -> Result<(), OcisError> {
        self.send(Request::probe("/graph/v1.0/me"), "user").await?;
        Ok(())
    }

    #[tracing::instrument(name = "ocis.ensure_project_space", skip_all)]
    async fn ensure_project_space(&self, space: &EnsureSpace) -> Result<Space, OcisError> {
        if let Some(id) = &space.existing_id {
            match self.drive(id).await {
                Ok(drive) if !drive.is_disabled() => {
                    return self.with_quota(drive, space.quota_bytes).await;
                }
                // Gone, trashed, or an id oCIS cannot parse: find or create by name.
                Ok(_) | Err(OcisError::NotFound { .. } | OcisError::InvalidId { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let list = Request::get("/graph/v1.0/drives").query("$filter", "driveType eq 'project'");
        let drives: Collection<DriveWire> = self.json(list, "space").await?;
        if let Some(drive) = drives
            .value
            .into_iter()
            .find(|d| d.drive_type == "project" && d.name == space.name && !d.is_disabled())
        {
            return self.with_quota(drive, space.quota_bytes).await;
        }
        let mut body = json!({
            "name": space.name,
            "driveType": "project",
            "quota": { "total": space.quota_bytes },
        });
        if let Some(description) = &space.description {
            body["description"] = json!(description);
        }
        let create = Request::post("/graph/v1.0/drives").json(&body);
        let created: DriveWire = self.json(create, "space").await?;
        Ok(created.into())
    }

    #[tracing::instrument(name = "ocis.space_usage", skip_all)]
    async fn space_usage(&self, space_id: &str) -> Result<Quota, OcisError> {
        Ok(self.drive(space_id).await?.quota.unwrap_or_default())
    }

    #[tracing::instrument(name = "ocis.ensure_user", skip_all)]
    async fn ensure_user(&self, user: &NewUser) -> Result<User, OcisError> {
        // `/users/{user-id}` takes the id or the name of a user.
        let path = format!("/graph/v1.0/users/{}", segment(&user.username)?);
        match self.json::<UserWire>(Request::get(path), "user").await {
            Ok(found) => return Ok(found.into()),
            Err(OcisError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
        let body = json!({
            "displayName": user.display_name,
            "onPremisesSamAccountName": user.username,
            "mail": user.mail,
            "passwordProfile": { "password": user.password.expose() },
        });
        let create = Request::post("/graph/v1.0/users").json(&body);
        let created: UserWire = self.json(create, "user").await?;
        Ok(created.into())
    }

    #[tracing::instrument(name = "ocis.delete_user", skip_all)]
    async fn delete_user(&self, user_id: &str) -> Result<(), OcisError> {
        let path = format!("/graph/v1.0/users/{}", segment(user_id)?);
        match self.send(Request::delete(path), "user").await {
            Ok(_) | Err(OcisError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    #[tracing::instrument(name = "ocis.add_user_to_space", skip_all)]
    async fn add_user_to_space(
        &self,
        space_id: &str,
        user_id: &str,
        role: SpaceRole,
    ) -> Result<(), OcisError> {
        let root = root_of(space_id)?;
        let existing = self.grant_of(&root, user_id).await?;
        if let Some(grant) = existing {
            if grant.roles.iter().any(|r| r == role.id()) {
                return Ok(());
            }
            let path = format!("{root}/permissions/{}", segment(&grant.id)?);
            let patch = Request::patch(path)
                .json(&json!({ "roles": [role.id()] }))
                .retry_safe();
            return self.send(patch, "space").await.map(drop);
        }
        let invite = json!({
            "recipients": [{ "objectId": user_id, "@libre.graph.recipient.type": "user" }],
            "roles": [role.id()],
        });
        let post = Request::post(format!("{root}/invite")).json(&invite);
        self.send(post, "space or user").await.map(drop)
    }

    #[tracing::instrument(name = "ocis.remove_user_from_space", skip_all)]
    async fn remove_user_from_space(&self, space_id: &str, user_id: &str) -> Result<(), OcisError> {
        let root = root_of(space_id)?;
        let Some(grant) = self.grant_of(&root, user_id).await? else {
            return Ok(());
        };
        let path = format!("{root}/permissions/{}", segment(&grant.id)?);
        match self.send(Request::delete(path), "permission").await {
            Ok(_) | Err(OcisError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    #[tracing::instrument(name = "ocis.set_user_enabled", skip_all)]
    async fn set_user_enabled(&self, user_id: &str, enabled: bool) -> Result<(), OcisError> {
        let path = format!("/graph/v1.0/users/{}", segment(user_id)?);
        let patch = Request::patch(path)
            .json(&json!({ "accountEnabled": enabled }))
            .retry_safe();
        self.send(patch, "user").await.map(drop)
    }
}

/// `/graph/v1beta1/drives/{id}/root`.
fn root_of(space_id: &str) -> Result<String, OcisError> {
    Ok(format!("/graph/v1beta1/drives/{}/root", segment(space_id)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn response(status: u16, code: &str) -> Response {
        let body = json!({"error": {"code": code, "message": "m",
            "innererror": {"date": "2025-11-23T12:00:00Z", "request-id": "r"}}});
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_string().into(),
        }
    }

    #[test]
    fn odata_errors_map_by_status_and_code() {
        assert!(matches!(
            error_from(&response(404, "itemNotFound"), "space"),
            OcisError::NotFound { what: "space" }
        ));
        assert!(matches!(
            error_from(&response(409, "nameAlreadyExists"), "user"),
            OcisError::AlreadyExists { .. }
        ));
        assert!(matches!(
            error_from(&response(403, "accessDenied"), "space"),
            OcisError::Denied { .. }
        ));
        assert!(matches!(
            error_from(&response(400, "invalidRequest"), "user"),
            OcisError::Invalid { .. }
        ));
        assert!(matches!(
            error_from(&response(401, "unauthenticated"), "user"),
            OcisError::Call(CallError::Unauthorized { status: 401 })
        ));
        assert!(matches!(
            error_from(&response(401, "notAllowed"), "space"),
            OcisError::Denied { .. }
        ));
        assert!(matches!(
            error_from(&response(422, "invalidRequest"), "space"),
            OcisError::InvalidId { what: "space", .. }
        ));
        assert_eq!(
            missing_attribute("missing required Attribute: 'mail'").as_deref(),
            Some("mail")
        );
    }

    #[test]
    fn segments_keep_drive_ids_and_refuse_slashes() {
        assert!(segment("storage-users-1$4c51-0ada").is_ok());
        assert!(segment("alice@example.com").is_ok());
        assert!(segment("../users").is_err());
        assert!(segment("..").is_err());
        assert!(segment("a b").is_err());
    }
}
