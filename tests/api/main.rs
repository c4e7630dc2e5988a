//! The integration suite: one binary, a database per test, the real app over loopback.

// The merged GraphQL roots (one part per area) nest deeply enough that computing the layout
// of their resolver futures overflows rustc's default query depth (128) in release builds.
#![recursion_limit = "256"]

mod support;

mod audience;
mod audit;
mod auth;
mod billing;
mod binary;
mod branding;
mod domains;
mod errors;
mod faults;
mod fingerprint;
mod flags;
mod generated;
mod graphiql;
mod health;
mod hostile;
mod impersonation;
mod limits;
mod members;
mod perf;
mod provisioning;
mod rate_limits;
mod reports;
mod retention;
mod security;
mod services;
mod shape;
mod soak;
mod spec;
mod team;
mod teardown;
mod tenants;
mod transport;
mod upstream;
mod websocket;
mod workspaces;
