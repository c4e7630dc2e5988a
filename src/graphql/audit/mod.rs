//! The audit log in the graph: `auditEvents`.

pub mod export;
pub mod query;
pub mod types;
