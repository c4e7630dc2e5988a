//! A tenant's SSO apps: Dezky (Authentik) as the OpenID Connect provider of the tenant's own
//! apps. Each app is an OAuth2 provider, an application and a binding of the application to
//! the tenant's group in Authentik, and a `tenant_sso_apps` row, which has no secret column:
//! the client secret is shown once (on create and on rotation) and lives only in Authentik.

use std::net::IpAddr;
use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use uuid::Uuid;

use crate::auth::TenantAccess;
use crate::db::schema::tenant_sso_apps;
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::TenantId;
use crate::error::{AppError, AppResult};
use crate::upstream::Secret;
use crate::upstream::authentik::{
    ApplicationSpec, ApplicationUpdate, AuthentikClient, MatchingMode, OAuth2ProviderSpec,
    OAuth2ProviderUpdate, RedirectUri,
};

/// The Authentik objects every app uses.
pub const AUTHORIZATION_FLOW: &str = "default-provider-authorization-implicit-consent";
/// The invalidation flow.
pub const INVALIDATION_FLOW: &str = "default-provider-invalidation-flow";
/// The signing key of the ID tokens.
pub const SIGNING_KEY: &str = "authentik Self-signed Certificate";
/// The scopes an app gets.
pub const SCOPES: [&str; 3] = [
    "goauthentik.io/providers/oauth2/scope-openid",
    "goauthentik.io/providers/oauth2/scope-profile",
    "goauthentik.io/providers/oauth2/scope-email",
];
/// Most redirect URIs of one app.
pub const MAX_REDIRECT_URIS: usize = 10;

/// A row of `tenant_sso_apps`.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = tenant_sso_apps)]
pub struct SsoAppRow {
    /// Id.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// The OAuth2 client id.
    pub client_id: String,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<Option<String>>,
    /// Where the app lives.
    pub launch_url: Option<String>,
    /// Authentik provider pk.
    pub authentik_provider_pk: i64,
    /// Authentik application slug.
    pub authentik_application_slug: String,
    /// Authentik policy binding uuid.
    pub authentik_binding_pk: String,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The apps of `tenants`, by tenant then name, in one statement.
pub async fn of_tenants(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> QueryResult<Vec<SsoAppRow>> {
    tenant_sso_apps::table
        .filter(tenant_sso_apps::tenant_id.eq_any(tenants))
        .order((
            tenant_sso_apps::tenant_id,
            tenant_sso_apps::name,
            tenant_sso_apps::id,
        ))
        .select(SsoAppRow::as_select())
        .load(conn)
        .await
}

/// What `createSsoApp` and `rotateSsoAppSecret` return: the app and its secret, once.
pub struct WithSecret {
    /// The app.
    pub app: SsoAppRow,
    /// The client secret (shown once, never stored).
    pub client_secret: Secret,
}

/// A validated display name (1–100 characters, trimmed).
fn name(raw: &str, field: &str) -> AppResult<String> {
    let name = raw.trim();
    let length = name.chars().count();
    if length == 0 || length > 100 || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            "1 to 100 characters, no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Whether `host` is a loopback host (`localhost`, 127.0.0.0/8, `[::1]`).
fn loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// A URL an app may redirect to or be launched at: `https`, or `http` on a loopback host
/// (development); no fragment, no wildcard, no user info, at most 2000 characters.
pub fn app_url(raw: &str, field: &str) -> AppResult<String> {
    let raw = raw.trim();
    let bad = |why: &str| AppError::bad_input(field, why.to_owned());
    if raw.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    if raw.contains('*') {
        return Err(bad("wildcards are not allowed"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("not an absolute URL"))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad("fragments are not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("user information is not allowed"));
    }
    let Some(host) = url.host() else {
        return Err(bad("a host is required"));
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback(&host) => {}
        "http" => return Err(bad("http is allowed for loopback hosts only; use https")),
        _ => return Err(bad("https only (or http on a loopback host)")),
    }
    Ok(url.to_string())
}

/// Validated redirect URIs (1 to 10, duplicates dropped).
pub fn redirect_uris(raw: &[String]) -> AppResult<Vec<String>> {
    if raw.is_empty() || raw.len() > MAX_REDIRECT_URIS {
        return Err(AppError::bad_input(
            "input.redirectUris",
            format!("between 1 and {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    let mut uris: Vec<String> = Vec::new();
    for (i, uri) in raw.iter().enumerate() {
        let uri = app_url(uri, &format!("input.redirectUris[{i}]"))?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

fn strict(uris: &[String]) -> Vec<RedirectUri> {
    uris.iter()
        .map(|url| RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: url.clone(),
        })
        .collect()
}

/// A new client secret: 48 random bytes, hex (96 characters).
fn new_secret() -> Secret {
    let mut bytes = [0u8; 48];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn authentik_or_unavailable(
    authentik: Option<Arc<dyn AuthentikClient>>,
) -> AppResult<Arc<dyn AuthentikClient>> {
    authentik.ok_or_else(|| AppError::UpstreamUnavailable {
        service: "authentik",
        cause: anyhow::anyhow!("Authentik is not configured"),
    })
}

/// What `createSsoApp` asks for.
pub struct NewSsoApp {
    /// Display name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Launch URL.
    pub launch_url: Option<String>,
}

/// Creates an app of tenant `slug` (its owners and admins, its partner's staff, operators):
/// looks up the flows, signing key and scope mappings, creates the provider, the application
/// and the binding to the tenant's group; on a failure at any step deletes what it created,
/// in reverse order. Audited (`sso_app.create`; the secret is in no row and no log line).
pub async fn create(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    slug: &str,
    input: NewSsoApp,
) -> AppResult<WithSecret> {
    caller
        .change("sso_app.create", "sso_app")
        .run(
            need::tenant(slug, TenantAccess::Admin),
            async move |tx, tenant| {
                let name = name(&input.name, "input.name")?;
                let uris = redirect_uris(&input.redirect_uris)?;
                let launch_url = input
                    .launch_url
                    .as_deref()
                    .filter(|u| !u.trim().is_empty())
                    .map(|u| app_url(u, "input.launchUrl"))
                    .transpose()?;
                let authentik = authentik_or_unavailable(authentik)?;
                let group = super::handles(tx.conn, &[tenant.id])
                    .await?
                    .remove(&tenant.id)
                    .and_then(|h| h.authentik_group_id)
                    .ok_or_else(|| {
                        AppError::Conflict(
                            "the tenant's Authentik group is not provisioned yet".into(),
                        )
                    })?;
                let id = Uuid::new_v4();
                let handle = format!("dezky-{}", id.simple());
                let authorization = authentik.flow_by_slug(AUTHORIZATION_FLOW).await?;
                let invalidation = authentik.flow_by_slug(INVALIDATION_FLOW).await?;
                let key = authentik.signing_key_by_name(SIGNING_KEY).await?;
                let scopes = authentik.scope_mappings(&SCOPES).await?;
                let provider = authentik
                    .ensure_oauth2_provider(&OAuth2ProviderSpec {
                        name: handle.clone(),
                        authorization_flow: authorization.pk,
                        invalidation_flow: invalidation.pk,
                        redirect_uris: strict(&uris),
                        signing_key: Some(key.pk),
                        property_mappings: scopes.into_iter().map(|m| m.pk).collect(),
                    })
                    .await?;
                let undo_provider = async || {
                    if let Err(e) = authentik.delete_oauth2_provider(provider.pk).await {
                        tracing::error!(error = %e, provider = provider.pk, "could not delete the OAuth2 provider of a failed createSsoApp");
                    }
                };
                let application = match authentik
                    .ensure_application(&ApplicationSpec {
                        slug: handle.clone(),
                        name: name.clone(),
                        provider: provider.pk,
                        launch_url: launch_url.clone(),
                    })
                    .await
                {
                    Ok(application) => application,
                    Err(e) => {
                        undo_provider().await;
                        return Err(e.into());
                    }
                };
                let undo_application = async || {
                    if let Err(e) = authentik.delete_application(&handle).await {
                        tracing::error!(error = %e, application = %handle, "could not delete the application of a failed createSsoApp");
                    }
                };
                let binding = match authentik
                    .ensure_group_binding(&application.pk, &group, 0)
                    .await
                {
                    Ok(binding) => binding,
                    Err(e) => {
                        undo_application().await;
                        undo_provider().await;
                        return Err(e.into());
                    }
                };
                let inserted = diesel::insert_into(tenant_sso_apps::table)
                    .values((
                        tenant_sso_apps::id.eq(id),
                        tenant_sso_apps::tenant_id.eq(tenant.id),
                        tenant_sso_apps::name.eq(&name),
                        tenant_sso_apps::client_id.eq(&provider.client_id),
                        tenant_sso_apps::redirect_uris.eq(&uris),
                        tenant_sso_apps::launch_url.eq(&launch_url),
                        tenant_sso_apps::authentik_provider_pk.eq(provider.pk),
                        tenant_sso_apps::authentik_application_slug.eq(&handle),
                        tenant_sso_apps::authentik_binding_pk.eq(&binding.pk),
                    ))
                    .returning(SsoAppRow::as_returning())
                    .get_result(tx.conn)
                    .await;
                let app = match inserted {
                    Ok(app) => app,
                    Err(e) => {
                        if let Err(e) = authentik.delete_policy_binding(&binding.pk).await {
                            tracing::error!(error = %e, "could not delete the binding of a failed createSsoApp");
                        }
                        undo_application().await;
                        undo_provider().await;
                        return Err(e.into());
                    }
                };
                tx.audit.target_id = Some(id.to_string());
                tx.audit.details = json!({
                    "name": name, "clientId": provider.client_id, "redirectUris": uris,
                    "launchUrl": launch_url, "authentikApplication": handle,
                });
                Ok(WithSecret {
                    app,
                    client_secret: provider.client_secret,
                })
            },
        )
        .await
}

/// An app id from the input (`BAD_USER_INPUT` on `input.id`).
fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::bad_input("input.id", "not an SSO app id"))
}

/// The app `id` of `tenant` (`NOT_FOUND` for an app of another tenant).
async fn app_of(conn: &mut AsyncPgConnection, tenant: TenantId, id: Uuid) -> AppResult<SsoAppRow> {
    tenant_sso_apps::table
        .filter(tenant_sso_apps::id.eq(id))
        .filter(tenant_sso_apps::tenant_id.eq(tenant))
        .select(SsoAppRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "SSO app" })
}

/// Changes to an app (`None` keeps the field; `Some(None)` clears the launch URL).
pub struct SsoAppChange {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Launch URL.
    pub launch_url: Option<Option<String>>,
}

/// Changes an app's name, redirect URIs and launch URL in Authentik and here. Audited
/// (`sso_app.update`, the changed fields).
pub async fn update(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    slug: &str,
    raw_id: &str,
    change: SsoAppChange,
) -> AppResult<SsoAppRow> {
    caller
        .change("sso_app.update", "sso_app")
        .run(
            need::tenant(slug, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(raw_id.to_owned());
                let id = parse_id(raw_id)?;
                let new_name = change.name.as_deref().map(|n| name(n, "input.name")).transpose()?;
                let uris = change.redirect_uris.as_deref().map(redirect_uris).transpose()?;
                let launch = match change.launch_url {
                    None => None,
                    Some(None) => Some(None),
                    Some(Some(u)) if u.trim().is_empty() => Some(None),
                    Some(Some(u)) => Some(Some(app_url(&u, "input.launchUrl")?)),
                };
                let app = app_of(tx.conn, tenant.id, id).await?;
                let authentik = authentik_or_unavailable(authentik)?;
                let name = new_name.unwrap_or_else(|| app.name.clone());
                let launch_url = launch.clone().unwrap_or_else(|| app.launch_url.clone());
                if name != app.name || launch_url != app.launch_url {
                    authentik
                        .update_application(
                            &app.authentik_application_slug,
                            &ApplicationUpdate {
                                name: name.clone(),
                                launch_url: launch_url.clone(),
                            },
                        )
                        .await?;
                }
                if let Some(uris) = &uris {
                    authentik
                        .update_oauth2_provider(
                            app.authentik_provider_pk,
                            &OAuth2ProviderUpdate {
                                redirect_uris: Some(strict(uris)),
                                client_secret: None,
                            },
                        )
                        .await?;
                }
                let uris = uris.unwrap_or_else(|| app.redirect_uris.iter().flatten().cloned().collect());
                let row = diesel::update(tenant_sso_apps::table.find(id))
                    .set((
                        tenant_sso_apps::name.eq(&name),
                        tenant_sso_apps::redirect_uris.eq(&uris),
                        tenant_sso_apps::launch_url.eq(&launch_url),
                        tenant_sso_apps::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(SsoAppRow::as_returning())
                    .get_result(tx.conn)
                    .await?;
                tx.audit.details = json!({
                    "before": { "name": app.name, "redirectUris": app.redirect_uris, "launchUrl": app.launch_url },
                    "after": { "name": row.name, "redirectUris": row.redirect_uris, "launchUrl": row.launch_url },
                });
                Ok(row)
            },
        )
        .await
}

/// Gives an app a new client secret (shown once). Audited (`sso_app.rotate_secret`).
pub async fn rotate_secret(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    slug: &str,
    raw_id: &str,
) -> AppResult<WithSecret> {
    caller
        .change("sso_app.rotate_secret", "sso_app")
        .run(
            need::tenant(slug, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(raw_id.to_owned());
                let id = parse_id(raw_id)?;
                let app = app_of(tx.conn, tenant.id, id).await?;
                let authentik = authentik_or_unavailable(authentik)?;
                let secret = new_secret();
                authentik
                    .update_oauth2_provider(
                        app.authentik_provider_pk,
                        &OAuth2ProviderUpdate {
                            redirect_uris: None,
                            client_secret: Some(secret.clone()),
                        },
                    )
                    .await?;
                tx.audit.details = json!({ "clientId": app.client_id });
                Ok(WithSecret {
                    app,
                    client_secret: secret,
                })
            },
        )
        .await
}

/// Deletes an app: its binding, application and provider in Authentik (already gone counts
/// as deleted), then its row. Audited (`sso_app.delete`).
pub async fn delete(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    slug: &str,
    raw_id: &str,
) -> AppResult<SsoAppRow> {
    caller
        .change("sso_app.delete", "sso_app")
        .run(
            need::tenant(slug, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(raw_id.to_owned());
                let id = parse_id(raw_id)?;
                let app = app_of(tx.conn, tenant.id, id).await?;
                let authentik = authentik_or_unavailable(authentik)?;
                authentik
                    .delete_policy_binding(&app.authentik_binding_pk)
                    .await?;
                authentik
                    .delete_application(&app.authentik_application_slug)
                    .await?;
                authentik
                    .delete_oauth2_provider(app.authentik_provider_pk)
                    .await?;
                diesel::delete(tenant_sso_apps::table.find(id))
                    .execute(tx.conn)
                    .await?;
                tx.audit.details = json!({ "name": app.name, "clientId": app.client_id });
                Ok(app)
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_urls_are_https_or_loopback_http_without_fragments_or_wildcards() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(app_url(ok, "f").is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "https://app.example.com/*",
            "ftp://app.example.com/",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@app.example.com/",
            "",
        ] {
            let e = app_url(bad, "input.redirectUris[0]").unwrap_err();
            assert!(
                matches!(e, AppError::BadUserInput { ref field, .. } if field == "input.redirectUris[0]"),
                "{bad}"
            );
        }
        assert!(redirect_uris(&[]).is_err());
        assert_eq!(new_secret().expose().len(), 96);
    }
}
