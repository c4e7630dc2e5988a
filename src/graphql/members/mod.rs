//! Tenant members in the graph.

pub mod types;
