//! Tenants and partners in the graph.

mod lists;
mod scoping;
