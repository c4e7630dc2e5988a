//! Tenants in the graph.

pub mod followed;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod types;
pub mod workspace;
