//! Test support: PostgreSQL (one cluster per machine, a database per test), the app over
//! real loopback HTTP, log capture, and small client helpers.

pub mod app;
pub mod checks;
pub mod fakes;
pub mod logs;
pub mod oidc;
pub mod postgres;
pub mod seed;
pub mod teardown;
pub mod ws;

pub use app::TestApp;
