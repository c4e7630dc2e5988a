//! Billing in the graph.

pub mod invoices;
pub mod loaders;
pub mod mutation;
pub mod plans;
pub mod types;
