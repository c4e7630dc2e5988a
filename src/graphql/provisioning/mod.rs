//! Tenant provisioning in the graph: `Tenant.provisioning`, `reconcileTenant`,
//! `retryProvisioningStep` and the `provisioningProgress` subscription.

pub mod loaders;
pub mod mutation;
pub mod subscription;
pub mod types;
