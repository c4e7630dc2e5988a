//! Security settings in the graph: `Tenant.securityPolicy` with where it is enforced, and
//! `updateSecurityPolicy`.

pub mod fields;
pub mod loaders;
pub mod mutation;
pub mod sso_apps;
pub mod types;
