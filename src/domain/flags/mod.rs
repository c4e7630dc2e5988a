//! Feature flags: rules, evaluation, storage and changes.

pub mod rules;
pub mod store;
