//! Tenants and partners in the graph.

mod lists;
mod mutations;
mod scoping;
