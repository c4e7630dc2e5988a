//! Billing in the graph.

pub mod types;
