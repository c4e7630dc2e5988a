//! platform-api: the control plane of Dezky, one GraphQL API over tenants, partners, email
//! domains, members, billing, feature flags, reports, the audit log and security settings.
//!
//! The crate is a library (so the binary and the integration tests share [`app::build`])
//! plus a thin `main.rs`.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod request_id;
pub mod telemetry;
pub mod upstream;

pub use error::{ApiError, ApiResult, AppError, AppResult, ErrorCode};
