//! Business rules and SQL, per area. Used by GraphQL resolvers (and later by webhooks and
//! jobs); resolvers never hold SQL themselves.

pub mod audit;
pub mod members;
pub mod partners;
pub mod subscriptions;
pub mod tenants;
pub mod users;
