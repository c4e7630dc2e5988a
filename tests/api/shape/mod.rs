//! The shape every area shares: layering, typed statuses, and one access policy.

mod layering;
mod policy;
mod statuses;
