//! Users in the graph: the `User` type (reached through `me`, members and `node`).

pub mod types;
