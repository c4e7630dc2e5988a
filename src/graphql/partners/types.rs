//! The `Partner` type.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::db::models::PartnerRow;
use crate::graphql::ids::{GlobalId, NodeType};

/// Lifecycle state of a partner. Partners are never deleted.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerStatus {
    /// Selling and managing tenants.
    Active,
    /// Temporarily barred.
    Suspended,
    /// Ended; kept for the record.
    Terminated,
}

impl PartnerStatus {
    /// From the database value.
    pub fn from_db(value: &str) -> Self {
        match value {
            "suspended" => Self::Suspended,
            "terminated" => Self::Terminated,
            _ => Self::Active,
        }
    }
}

/// A reseller that sells the suite to its own customers (tenants).
pub struct Partner(pub PartnerRow);

#[Object]
impl Partner {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Partner, self.0.id).to_id()
    }

    /// Human handle, unique.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Lifecycle state.
    async fn status(&self) -> PartnerStatus {
        PartnerStatus::from_db(&self.0.status)
    }

    /// When the partner was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
