//! Impersonation in the graph: `startImpersonation` / `endImpersonation`, the
//! `ImpersonationSession` type (`Tenant.impersonationSessions`, `node`), and
//! `me.impersonation` for the portal's banner.

pub mod loaders;
pub mod mutation;
pub mod types;
