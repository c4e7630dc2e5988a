//! The reqwest implementation of [`AuthentikClient`]: shared plumbing here, the operations
//! in `directory.rs` (groups, users, sessions, authenticators) and `sso.rs` (providers,
//! applications, bindings, lookups).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{directory, sso, *};
use crate::upstream::config::{AuthentikConfig, Credentials, HttpSettings};
use crate::upstream::transport::{Request, Response, Transport};

/// The API prefix.
pub(super) const API: &str = "/api/v3";

/// Page size asked for when listing.
const PAGE_SIZE: &str = "100";

/// Most pages followed by one listing.
const MAX_PAGES: u32 = 50;

/// Authentik over HTTPS with an API token.
#[derive(Debug)]
pub struct HttpAuthentikClient {
    transport: Transport,
}

#[derive(Deserialize)]
struct Paginated<T> {
    pagination: Pagination,
    results: Vec<T>,
}

#[derive(Deserialize)]
struct Pagination {
    next: u32,
}

impl HttpAuthentikClient {
    /// A client for the configured server and token.
    pub fn new(config: &AuthentikConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        let credentials = Credentials::Bearer(config.token.clone());
        Ok(Self {
            transport: Transport::new("authentik", &config.url, credentials, http)?,
        })
    }

    /// Sends a request; any non-2xx answer becomes an [`AuthentikError`] about `what`.
    pub(super) async fn send(
        &self,
        request: Request,
        what: &'static str,
    ) -> Result<Response, AuthentikError> {
        let response = self.transport.send(request).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(error_from(&response, what))
        }
    }

    /// Sends a request and decodes the JSON answer.
    pub(super) async fn json<T: DeserializeOwned>(
        &self,
        request: Request,
        what: &'static str,
    ) -> Result<T, AuthentikError> {
        Ok(self.send(request, what).await?.json()?)
    }

    /// Every result of a paginated list, following `pagination.next` (0 = last page).
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
        what: &'static str,
    ) -> Result<Vec<T>, AuthentikError> {
        let mut all = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let mut request = Request::get(format!("{API}{path}"))
                .query("page", page.to_string())
                .query("page_size", PAGE_SIZE);
            for (name, value) in filters {
                request = request.query(name, *value);
            }
            let answer: Paginated<T> = self.json(request, what).await?;
            all.extend(answer.results);
            if answer.pagination.next == 0 || answer.pagination.next <= page {
                return Ok(all);
            }
            page = answer.pagination.next;
        }
        tracing::warn!(pages = MAX_PAGES, what, "stopped following pages");
        Ok(all)
    }

    /// DELETE; an object already gone counts as deleted.
    pub(super) async fn delete(
        &self,
        path: String,
        what: &'static str,
    ) -> Result<(), AuthentikError> {
        match self
            .send(Request::delete(format!("{API}{path}")), what)
            .await
        {
            Ok(_) | Err(AuthentikError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

/// The `detail`s of Authentik's token refusals (`authentik/api/authentication.py`) and DRF's
/// `NotAuthenticated`; any other 403 is a permission denial.
const TOKEN_REFUSALS: [&str; 3] = [
    "Token invalid/expired",
    "Unsupported authentication type",
    "Authentication credentials were not provided.",
];

/// Maps an error answer: a 403 about the token is how Authentik refuses credentials (DRF
/// without `authenticate_header`), any other 403 a missing permission; 400 carries field
/// errors (nested for nested serializers) and `code`; 404 a `detail`.
fn error_from(response: &Response, what: &'static str) -> AuthentikError {
    if let Some(err) = response.common_error() {
        return err.into();
    }
    match response.code() {
        403 => {
            let body: Value = response.json().unwrap_or_default();
            let detail = body["detail"].as_str().unwrap_or_default().to_owned();
            let code = body["code"].as_str().unwrap_or_default();
            let token = matches!(code, "authentication_failed" | "not_authenticated")
                || TOKEN_REFUSALS.contains(&detail.as_str())
                || detail.is_empty();
            if token {
                CallError::Unauthorized { status: 403 }.into()
            } else {
                AuthentikError::Denied { detail }
            }
        }
        404 => AuthentikError::NotFound { what },
        400 => {
            let body: BTreeMap<String, Value> = response.json().unwrap_or_default();
            let mut fields = BTreeMap::new();
            let mut code = None;
            for (field, value) in body {
                match (field.as_str(), value) {
                    ("code", Value::String(c)) => code = Some(c),
                    (_, value) => flatten_errors(&field, value, &mut fields),
                }
            }
            AuthentikError::Invalid { fields, code }
        }
        status => CallError::Unexpected {
            status,
            detail: format!("while handling a {what}"),
        }
        .into(),
    }
}

/// DRF's error tree to paths: `{"a": ["m"]}` → `a`; a list of per-item objects (a nested
/// list serializer) → `a[1].b`; an object (a nested serializer) → `a.b`.
fn flatten_errors(at: &str, value: Value, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::String(message) => out.entry(at.to_owned()).or_default().push(message),
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(message) => out.entry(at.to_owned()).or_default().push(message),
                    nested => flatten_errors(&format!("{at}[{i}]"), nested, out),
                }
            }
        }
        Value::Object(map) => {
            for (key, nested) in map {
                flatten_errors(&format!("{at}.{key}"), nested, out);
            }
        }
        _ => {}
    }
}

/// A uuid for a URL path segment.
pub(super) fn uuid_segment(value: &str) -> Result<&str, AuthentikError> {
    uuid::Uuid::parse_str(value)
        .map(|_| value)
        .map_err(|_| invalid("pk", "not a uuid"))
}

/// An application slug for a URL path segment (`^[-a-zA-Z0-9_]+$`, ≤ 50, as the schema says).
pub(super) fn slug_segment(value: &str) -> Result<&str, AuthentikError> {
    let ok = !value.is_empty()
        && value.len() <= 50
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(invalid("slug", "not a valid application slug"))
    }
}

fn invalid(field: &str, message: &str) -> AuthentikError {
    AuthentikError::Invalid {
        fields: [(field.to_owned(), vec![message.to_owned()])].into(),
        code: None,
    }
}

#[async_trait]
impl AuthentikClient for HttpAuthentikClient {
    #[tracing::instrument(name = "authentik.probe", skip_all)]
    async fn probe(&self) -> Result<(), AuthentikError> {
        let me: Value = self
            .json(Request::probe(format!("{API}/core/users/me/")), "user")
            .await?;
        if me["user"].is_object() {
            Ok(())
        } else {
            Err(CallError::decode(200, "no `user` in core/users/me").into())
        }
    }

    async fn ensure_tenant_group(&self, group: &TenantGroup) -> Result<Group, AuthentikError> {
        directory::ensure_tenant_group(self, group).await
    }

    async fn ensure_partner_group(&self, group: &PartnerGroup) -> Result<Group, AuthentikError> {
        directory::ensure_partner_group(self, group).await
    }

    async fn user(&self, user_pk: i64) -> Result<User, AuthentikError> {
        directory::user(self, user_pk).await
    }

    async fn delete_group(&self, group_pk: &str) -> Result<(), AuthentikError> {
        directory::delete_group(self, group_pk).await
    }

    async fn ensure_user(&self, user: &NewUser) -> Result<User, AuthentikError> {
        directory::ensure_user(self, user).await
    }

    async fn update_user(&self, user_pk: i64, update: &UserUpdate) -> Result<User, AuthentikError> {
        directory::patch_user(
            self,
            user_pk,
            &serde_json::to_value(update).unwrap_or_default(),
        )
        .await
    }

    async fn set_user_active(&self, user_pk: i64, active: bool) -> Result<User, AuthentikError> {
        directory::patch_user(self, user_pk, &serde_json::json!({ "is_active": active })).await
    }

    async fn delete_user(&self, user_pk: i64) -> Result<(), AuthentikError> {
        directory::delete_user(self, user_pk).await
    }

    async fn add_user_to_group(&self, group_pk: &str, user_pk: i64) -> Result<(), AuthentikError> {
        directory::membership(self, group_pk, user_pk, "add_user").await
    }

    async fn remove_user_from_group(
        &self,
        group_pk: &str,
        user_pk: i64,
    ) -> Result<(), AuthentikError> {
        directory::membership(self, group_pk, user_pk, "remove_user").await
    }

    async fn set_password(&self, user_pk: i64, password: &Secret) -> Result<(), AuthentikError> {
        directory::set_password(self, user_pk, password).await
    }

    async fn list_sessions(&self, user: &UserRef) -> Result<Vec<Session>, AuthentikError> {
        directory::list_sessions(self, user).await
    }

    async fn terminate_sessions(&self, user: &UserRef) -> Result<usize, AuthentikError> {
        directory::terminate_sessions(self, user).await
    }

    async fn count_authenticators(&self, user_pk: i64) -> Result<usize, AuthentikError> {
        directory::count_authenticators(self, user_pk).await
    }

    async fn authenticators_by_type(
        &self,
        user_pk: i64,
    ) -> Result<Vec<AuthenticatorCount>, AuthentikError> {
        directory::authenticators_by_type(self, user_pk).await
    }

    async fn ensure_oauth2_provider(
        &self,
        spec: &OAuth2ProviderSpec,
    ) -> Result<OAuth2Provider, AuthentikError> {
        sso::ensure_oauth2_provider(self, spec).await
    }

    async fn update_oauth2_provider(
        &self,
        provider_pk: i64,
        update: &OAuth2ProviderUpdate,
    ) -> Result<OAuth2Provider, AuthentikError> {
        sso::update_oauth2_provider(self, provider_pk, update).await
    }

    async fn update_application(
        &self,
        slug: &str,
        update: &ApplicationUpdate,
    ) -> Result<Application, AuthentikError> {
        sso::update_application(self, slug, update).await
    }

    async fn delete_oauth2_provider(&self, provider_pk: i64) -> Result<(), AuthentikError> {
        self.delete(
            format!("/providers/oauth2/{provider_pk}/"),
            "OAuth2 provider",
        )
        .await
    }

    async fn ensure_application(
        &self,
        spec: &ApplicationSpec,
    ) -> Result<Application, AuthentikError> {
        sso::ensure_application(self, spec).await
    }

    async fn delete_application(&self, slug: &str) -> Result<(), AuthentikError> {
        let slug = slug_segment(slug)?;
        self.delete(format!("/core/applications/{slug}/"), "application")
            .await
    }

    async fn ensure_group_binding(
        &self,
        application_pk: &str,
        group_pk: &str,
        order: i32,
    ) -> Result<PolicyBinding, AuthentikError> {
        sso::ensure_group_binding(self, application_pk, group_pk, order).await
    }

    async fn delete_policy_binding(&self, binding_pk: &str) -> Result<(), AuthentikError> {
        let pk = uuid_segment(binding_pk)?;
        self.delete(format!("/policies/bindings/{pk}/"), "policy binding")
            .await
    }

    async fn flow_by_slug(&self, slug: &str) -> Result<Flow, AuthentikError> {
        sso::flow_by_slug(self, slug).await
    }

    async fn signing_key_by_name(&self, name: &str) -> Result<CertificateKeyPair, AuthentikError> {
        sso::signing_key_by_name(self, name).await
    }

    async fn scope_mappings(&self, managed: &[&str]) -> Result<Vec<ScopeMapping>, AuthentikError> {
        sso::scope_mappings(self, managed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_owned().into(),
        }
    }

    #[test]
    fn error_answers_map_by_status() {
        let bad_token = response(403, r#"{"detail":"Token invalid/expired"}"#);
        assert!(matches!(
            error_from(&bad_token, "user"),
            AuthentikError::Call(CallError::Unauthorized { status: 403 })
        ));
        let refused = response(
            400,
            r#"{"username":["This field is required."],"non_field_errors":["x"],"code":"invalid"}"#,
        );
        let AuthentikError::Invalid { fields, code } = error_from(&refused, "user") else {
            panic!("a validation error");
        };
        assert_eq!(fields["username"], ["This field is required."]);
        assert_eq!(fields["non_field_errors"], ["x"]);
        assert!(!fields.contains_key("code"));
        assert_eq!(code.as_deref(), Some("invalid"));
        let nested = response(
            400,
            r#"{"redirect_uris":[{},{"url":["This field may not be blank."]}],"code":"invalid"}"#,
        );
        let AuthentikError::Invalid { fields, .. } = error_from(&nested, "provider") else {
            panic!("a validation error");
        };
        assert_eq!(
            fields["redirect_uris[1].url"],
            ["This field may not be blank."]
        );
        let denied = response(
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        );
        assert!(matches!(
            error_from(&denied, "group"),
            AuthentikError::Denied { .. }
        ));
        assert!(matches!(
            error_from(&response(404, "{}"), "group"),
            AuthentikError::NotFound { what: "group" }
        ));
    }

    #[test]
    fn path_segments_are_checked() {
        assert!(uuid_segment("6f1b4c0e-2f7a-4e59-9a57-0c4b4e0d1a2b").is_ok());
        assert!(uuid_segment("../users").is_err());
        assert!(slug_segment("acme-portal_1").is_ok());
        assert!(slug_segment("a/b").is_err());
        assert!(slug_segment(&"a".repeat(51)).is_err());
    }
}
