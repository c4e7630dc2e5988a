//! Business rules and SQL. Used by GraphQL resolvers, jobs and webhooks; resolvers never hold
//! SQL themselves, and nothing here imports `crate::graphql` or `crate::http` (a test holds
//! that).
//!
//! The vocabulary every area shares: typed ids ([`ids`]), statuses stored as text
//! ([`text_enum!`](crate::text_enum)), pages and cursors ([`page`]), patches ([`patch`]),
//! validated values ([`values`]), status moves ([`lifecycle`]) and the audited runner every
//! mutation goes through ([`audit::change`]).
//!
//! Each area is a folder: `mod.rs` holds its types and reads, `changes.rs` its mutations
//! (more files by operation as it grows).

pub mod ids;
pub mod lifecycle;
pub mod page;
pub mod patch;
pub mod text_enum;
pub mod values;

pub mod audit;
pub mod billing;
pub mod branding;
pub mod domains;
pub mod flags;
pub mod health;
pub mod impersonation;
pub mod jobs;
pub mod members;
pub mod partners;
pub mod provisioning;
pub mod reports;
pub mod retention;
pub mod security;
pub mod services;
pub mod steps;
pub mod tenants;
pub mod users;
