//! The audit log in the graph: `auditEvents`.

pub mod query;
pub mod types;
