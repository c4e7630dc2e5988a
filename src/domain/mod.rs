//! Business rules and SQL, per area. Used by GraphQL resolvers (and later by webhooks and
//! jobs); resolvers never hold SQL themselves.

pub mod audit;
pub mod audit_query;
pub mod partners;
pub mod tenants;
pub mod users;
