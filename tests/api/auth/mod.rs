//! Identity and authorization.

mod roles;
mod tokens;
