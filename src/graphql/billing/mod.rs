//! Billing in the graph.

pub mod details;
pub mod gate;
pub mod invoices;
pub mod loaders;
pub mod mutation;
pub mod payment;
pub mod payouts;
pub mod plans;
pub mod types;
