//! Business rules and SQL, per area. Used by GraphQL resolvers (and later by webhooks and
//! jobs); resolvers never hold SQL themselves.

pub mod audit;
pub mod audit_query;
pub mod flags;
pub mod members;
pub mod partner_changes;
pub mod partners;
pub mod provisioning;
pub mod subscriptions;
pub mod tenant_changes;
pub mod tenants;
pub mod users;
pub mod values;
