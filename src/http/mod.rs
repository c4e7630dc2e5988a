//! HTTP transport: routes, middleware and the handlers that are not GraphQL resolvers.

pub mod exports;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod limits;
pub mod middleware;
pub mod oauth;
pub mod reply;
pub mod request_body;
pub mod webhooks;
pub mod well_known;
pub mod wire;
pub mod ws;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .layer(axum::middleware::from_fn(
                    limits::headers::single_authorization,
                )),
        )
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/.well-known/openid-configuration",
            get(well_known::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route("/.well-known/dev-jwks.json", get(well_known::dev_jwks))
        .route("/webhooks/stripe", post(webhooks::stripe))
        .route("/oauth/token", post(oauth::token))
        .route("/exports/{id}", get(exports::download))
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(state)
}
