//! Tenant members in the graph.

pub mod loaders;
pub mod types;
