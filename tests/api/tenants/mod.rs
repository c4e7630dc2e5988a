//! Tenants and partners in the graph.

mod lists;
mod mutations;
mod partner_counts;
mod scoping;
