//! Test support: PostgreSQL (one cluster per machine, a database per test), the app over
//! real loopback HTTP, the [`World`] fixture builder, [`Token`]s, the "nothing changed"
//! fingerprint, log capture, and small client helpers. See `README.md` here.

pub mod app;
pub mod checks;
pub mod fakes;
pub mod geoip;
pub mod logs;
pub mod oidc;
pub mod postgres;
pub mod tables;
pub mod teardown;
pub mod token;
pub mod world;
pub mod ws;

pub use app::TestApp;
pub use token::Token;
pub use world::{Level, Role, Tenant, World};
