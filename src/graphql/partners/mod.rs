//! Partners (resellers) in the graph.

pub mod query;
pub mod types;
