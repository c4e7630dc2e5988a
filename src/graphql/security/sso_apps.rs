//! SSO apps in the graph: `Tenant.ssoApps` and the four mutations (thin wrappers over
//! `domain::security::sso_apps`).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::security::sso_apps::{self, NewSsoApp, SsoAppChange, SsoAppRow};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::upstream::Upstreams;

/// An app of the tenant that signs its users in with Dezky (OpenID Connect). The client
/// secret is never shown here: only once by `createSsoApp` and `rotateSsoAppSecret`.
pub struct SsoApp(pub SsoAppRow);

/// An app of the tenant that signs its users in with Dezky (OpenID Connect).
#[Object]
impl SsoApp {
    /// Its id (for the SSO app mutations).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The OAuth2 client id.
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// Allowed redirect URIs (matched exactly).
    async fn redirect_uris(&self) -> Vec<String> {
        self.0.redirect_uris.iter().flatten().cloned().collect()
    }

    /// Where the app lives (shown in the users' app library).
    async fn launch_url(&self) -> Option<&str> {
        self.0.launch_url.as_deref()
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `createSsoApp`.
#[derive(InputObject)]
pub struct CreateSsoAppInput {
    /// Slug of the tenant (its owners and admins, its partner's staff, operators).
    pub tenant: String,
    /// Display name (1–100 characters).
    pub name: String,
    /// 1 to 10 redirect URIs: `https` (or `http` on a loopback host), no fragment, no wildcard.
    pub redirect_uris: Vec<String>,
    /// Where the app lives (same URL rules).
    pub launch_url: Option<String>,
}

/// Input of `updateSsoApp`: omitted fields stay; `launchUrl: null` clears it.
#[derive(InputObject)]
pub struct UpdateSsoAppInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The app.
    pub id: ID,
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs (replace the list).
    pub redirect_uris: Option<Vec<String>>,
    /// Launch URL.
    pub launch_url: MaybeUndefined<String>,
}

/// Names one app of a tenant.
#[derive(InputObject)]
pub struct SsoAppRefInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// The app.
    pub id: ID,
}

/// An app with its client secret, shown this once.
#[derive(SimpleObject)]
pub struct SsoAppSecretPayload {
    /// The app.
    pub app: SsoApp,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The client secret: shown only now, stored nowhere by this server.
    pub client_secret: String,
}

/// An app after a change.
#[derive(SimpleObject)]
pub struct SsoAppPayload {
    /// The app.
    pub app: SsoApp,
}

fn authentik(ctx: &Context<'_>) -> Option<Arc<dyn crate::upstream::authentik::AuthentikClient>> {
    ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone()
}

fn with_secret(done: sso_apps::WithSecret) -> SsoAppSecretPayload {
    SsoAppSecretPayload {
        client_id: done.app.client_id.clone(),
        client_secret: done.client_secret.expose().to_owned(),
        app: SsoApp(done.app),
    }
}

/// SSO app mutations.
#[derive(Default)]
pub struct SsoAppMutation;

#[Object]
impl SsoAppMutation {
    /// Creates an SSO app of a tenant: an Authentik OAuth2 provider (the `openid`, `profile`
    /// and `email` scopes), an application and its binding to the tenant's group; on a
    /// failure at any step what was created is deleted again. Returns the client secret
    /// once. Audited (`sso_app.create`); refused while impersonating.
    async fn create_sso_app(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the app.")] input: CreateSsoAppInput,
    ) -> ApiResult<SsoAppSecretPayload> {
        let caller = caller(ctx).await?;
        let new = NewSsoApp {
            name: input.name,
            redirect_uris: input.redirect_uris,
            launch_url: input.launch_url,
        };
        let done = sso_apps::create(&caller, authentik(ctx), &input.tenant, new).await?;
        Ok(with_secret(done))
    }

    /// Changes an SSO app's name, redirect URIs or launch URL (same access). Audited
    /// (`sso_app.update`, before and after); refused while impersonating.
    async fn update_sso_app(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app and the fields to change.")] input: UpdateSsoAppInput,
    ) -> ApiResult<SsoAppPayload> {
        let caller = caller(ctx).await?;
        let change = SsoAppChange {
            name: input.name,
            redirect_uris: input.redirect_uris,
            launch_url: match input.launch_url {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(u) => Some(Some(u)),
            },
        };
        let row =
            sso_apps::update(&caller, authentik(ctx), &input.tenant, &input.id, change).await?;
        Ok(SsoAppPayload { app: SsoApp(row) })
    }

    /// Gives an SSO app a new client secret, shown once (the old one stops working).
    /// Audited (`sso_app.rotate_secret`); refused while impersonating.
    async fn rotate_sso_app_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app.")] input: SsoAppRefInput,
    ) -> ApiResult<SsoAppSecretPayload> {
        let caller = caller(ctx).await?;
        let done =
            sso_apps::rotate_secret(&caller, authentik(ctx), &input.tenant, &input.id).await?;
        Ok(with_secret(done))
    }

    /// Deletes an SSO app (its binding, application and provider in Authentik, then the
    /// row). Audited (`sso_app.delete`); refused while impersonating.
    async fn delete_sso_app(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app.")] input: SsoAppRefInput,
    ) -> ApiResult<SsoAppPayload> {
        let caller = caller(ctx).await?;
        let row = sso_apps::delete(&caller, authentik(ctx), &input.tenant, &input.id).await?;
        Ok(SsoAppPayload { app: SsoApp(row) })
    }
}
