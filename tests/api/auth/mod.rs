//! Identity and authorization.

mod guards;
mod roles;
mod tokens;
