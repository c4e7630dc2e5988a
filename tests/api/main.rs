//! The integration suite: one binary, a database per test, the real app over loopback.

mod support;

mod audience;
mod audit;
mod auth;
mod binary;
mod domains;
mod errors;
mod fingerprint;
mod flags;
mod generated;
mod graphiql;
mod health;
mod limits;
mod provisioning;
mod shape;
mod tenants;
mod transport;
mod upstream;
mod websocket;
