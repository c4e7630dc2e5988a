//! The `Tenant` type.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::db::models::TenantRow;
use crate::graphql::ids::{GlobalId, NodeType};

/// Lifecycle state of a tenant.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    /// Created; provisioning not finished.
    Pending,
    /// In service.
    Active,
    /// Temporarily out of service (e.g. unpaid); data kept.
    Suspended,
    /// Ended; kept for the record.
    Terminated,
}

impl TenantStatus {
    /// From the database value.
    pub fn from_db(value: &str) -> Self {
        match value {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "terminated" => Self::Terminated,
            _ => Self::Pending,
        }
    }
}

/// A customer organisation using the suite.
pub struct Tenant(pub TenantRow);

#[Object]
impl Tenant {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Tenant, self.0.id).to_id()
    }

    /// Human handle, unique (lower-case letters, digits and single dashes).
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Lifecycle state.
    async fn status(&self) -> TenantStatus {
        TenantStatus::from_db(&self.0.status)
    }

    /// The plan the tenant is on.
    async fn plan(&self) -> &str {
        &self.0.plan
    }

    /// The tenant's primary mail domain, if set.
    async fn primary_domain(&self) -> Option<&str> {
        self.0.primary_domain.as_deref()
    }

    /// When the tenant was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the tenant last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
