//! Per-request authentication state, resolved lazily: nothing is verified and no SQL is
//! sent until a field actually needs the caller, so refused or public queries cost nothing.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::auth::claims::VerifiedToken;
use crate::auth::verify::TokenVerifier;
use crate::auth::viewer::Viewer;
use crate::db::DbPool;
use crate::domain;
use crate::domain::security::geoip::GeoIp;
use crate::domain::security::network::ClientNetwork;
use crate::error::{ApiError, ApiResult, AppError};

/// Process-wide authentication services (schema data).
pub struct AuthServices {
    /// Verifies bearer tokens.
    pub verifier: TokenVerifier,
    /// The group that grants `platform_admin` through `me`.
    pub admin_group: String,
    /// The GeoIP database (`GEOIP_DATABASE`), when configured: countries are enforced.
    pub geoip: Option<Arc<GeoIp>>,
}

impl AuthServices {
    /// Where a request from `ip` comes from (its country looked up when a GeoIP database is
    /// configured).
    pub fn client_network(&self, ip: Option<IpAddr>) -> ClientNetwork {
        ClientNetwork {
            ip,
            geoip: self.geoip.is_some(),
            country: match (&self.geoip, ip) {
                (Some(geoip), Some(ip)) => geoip.country(ip),
                _ => None,
            },
        }
    }
}

enum Credential {
    /// No `Authorization` header.
    Absent,
    /// `Authorization: Bearer <token>`, not yet verified.
    Bearer(String),
    /// An `Authorization` header of another scheme.
    Unsupported,
    /// Verified when the WebSocket connection was initialised.
    Verified(Arc<VerifiedToken>),
}

/// The caller's credential and, once resolved, their Viewer (request data, as
/// `Arc<AuthContext>`, shared by the operations of one batch).
pub struct AuthContext {
    credential: Credential,
    token: OnceCell<Result<Arc<VerifiedToken>, ApiError>>,
    /// `None` for WebSocket connections: their operations re-read the Viewer each time, so
    /// a revoked role takes effect on the next operation of a long-lived socket too.
    viewer: Option<OnceCell<Result<Arc<Viewer>, ApiError>>>,
    /// The client address (see `TRUSTED_PROXIES`), for the tenants' network rules.
    client_ip: Option<IpAddr>,
}

impl AuthContext {
    /// From an HTTP `Authorization` header.
    pub fn from_authorization(header: Option<&str>) -> Self {
        let credential = match header.map(str::trim) {
            None | Some("") => Credential::Absent,
            Some(value) => match value.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Credential::Bearer(token.trim().to_owned())
                }
                _ => Credential::Unsupported,
            },
        };
        Self {
            credential,
            token: OnceCell::new(),
            viewer: Some(OnceCell::new()),
            client_ip: None,
        }
    }

    /// The client address the request came from.
    pub fn with_client_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }

    /// For a WebSocket connection whose token was verified at `connection_init`.
    pub fn verified(token: Arc<VerifiedToken>) -> Self {
        Self {
            credential: Credential::Verified(token),
            token: OnceCell::new(),
            viewer: None,
            client_ip: None,
        }
    }

    /// The verified token, or `UNAUTHENTICATED` (the reason is logged once).
    pub async fn token(&self, services: &AuthServices) -> ApiResult<Arc<VerifiedToken>> {
        self.token
            .get_or_init(|| async {
                match &self.credential {
                    Credential::Verified(token) => Ok(Arc::clone(token)),
                    Credential::Absent => Err(AppError::Unauthenticated.into()),
                    Credential::Unsupported => {
                        tracing::info!(
                            reason = "unsupported authorization scheme",
                            "token refused"
                        );
                        Err(AppError::Unauthenticated.into())
                    }
                    Credential::Bearer(raw) => services.verifier.verify(raw).await.map_err(|e| {
                        tracing::info!(reason = %e, "token refused");
                        AppError::Unauthenticated.into()
                    }),
                }
            })
            .await
            .clone()
    }

    /// The Viewer (one SQL statement, at most once per HTTP request).
    pub async fn viewer(&self, services: &AuthServices, pool: &DbPool) -> ApiResult<Arc<Viewer>> {
        let load = || async {
            let token = self.token(services).await?;
            let mut conn = pool.get().await?;
            let mut viewer = domain::users::load_viewer(&mut conn, &token).await?;
            viewer.network = services.client_network(self.client_ip);
            Ok(Arc::new(viewer))
        };
        match &self.viewer {
            Some(cell) => cell.get_or_init(load).await.clone(),
            None => load().await,
        }
    }
}

/// Access to the caller from a resolver or guard.
pub trait ContextAuth {
    /// The caller's verified token, or `UNAUTHENTICATED`.
    fn verified_token(&self) -> impl Future<Output = ApiResult<Arc<VerifiedToken>>> + Send;
    /// Where the request comes from (for a viewer loaded outside [`AuthContext::viewer`]).
    fn client_network(&self) -> ClientNetwork;
    /// The caller as the database knows them, or `UNAUTHENTICATED`.
    fn viewer(&self) -> impl Future<Output = ApiResult<Arc<Viewer>>> + Send;
}

impl ContextAuth for async_graphql::Context<'_> {
    async fn verified_token(&self) -> ApiResult<Arc<VerifiedToken>> {
        let auth = self
            .data_opt::<Arc<AuthContext>>()
            .ok_or(AppError::Unauthenticated)?;
        auth.token(self.data_unchecked::<Arc<AuthServices>>()).await
    }

    fn client_network(&self) -> ClientNetwork {
        let ip = self
            .data_opt::<Arc<AuthContext>>()
            .and_then(|auth| auth.client_ip);
        self.data_unchecked::<Arc<AuthServices>>()
            .client_network(ip)
    }

    async fn viewer(&self) -> ApiResult<Arc<Viewer>> {
        let auth = self
            .data_opt::<Arc<AuthContext>>()
            .ok_or(AppError::Unauthenticated)?;
        auth.viewer(
            self.data_unchecked::<Arc<AuthServices>>(),
            self.data_unchecked::<DbPool>(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_are_classified() {
        assert!(matches!(
            AuthContext::from_authorization(None).credential,
            Credential::Absent
        ));
        assert!(matches!(
            AuthContext::from_authorization(Some("  ")).credential,
            Credential::Absent
        ));
        assert!(matches!(
            AuthContext::from_authorization(Some("Bearer abc")).credential,
            Credential::Bearer(ref t) if t == "abc"
        ));
        assert!(matches!(
            AuthContext::from_authorization(Some("bearer  abc ")).credential,
            Credential::Bearer(_)
        ));
        assert!(matches!(
            AuthContext::from_authorization(Some("Basic dXNlcg==")).credential,
            Credential::Unsupported
        ));
        assert!(matches!(
            AuthContext::from_authorization(Some("Bearer ")).credential,
            Credential::Unsupported
        ));
    }
}
