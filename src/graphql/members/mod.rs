//! Tenant members in the graph.

pub mod loaders;
pub mod mutation;
pub mod subscription;
pub mod types;
