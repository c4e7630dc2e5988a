//! Email domains in the graph.

pub mod loaders;
pub mod mutation;
pub mod types;
