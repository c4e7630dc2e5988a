//! Tenant members in the graph.

pub mod loaders;
pub mod mutation;
pub mod seat_warnings;
pub mod subscription;
pub mod types;
