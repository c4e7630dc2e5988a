//! Tenants in the graph.

pub mod loaders;
pub mod mutation;
pub mod query;
pub mod types;
pub mod workspace;
