//! `StaffMember` and its connection.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::ids::PartnerId;
use crate::domain::partners::AccessLevel;
use crate::domain::partners::staff::{StaffRow, UpstreamFacts};
use crate::error::ApiResult;
use crate::graphql::connections::CountSource;
use crate::graphql::context::loaders;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::team::loaders::StaffCountOfPartner;

/// One person on a partner's team.
pub struct StaffMember {
    /// The position and the person.
    pub row: StaffRow,
    /// What Authentik knows of them (`None` when not asked, unknown or unreachable).
    pub upstream: Option<UpstreamFacts>,
}

impl StaffMember {
    /// The sort key in the staff list (what a cursor encodes).
    pub fn key(&self) -> String {
        self.row.key()
    }
}

/// One person on a partner's team.
#[Object]
impl StaffMember {
    /// The person's global `User` id (what `changeStaffAccess` and `removeStaff` take).
    async fn user_id(&self) -> ID {
        GlobalId::new(NodeType::User, self.row.user_id.uuid()).to_id()
    }

    /// Their e-mail address.
    async fn email(&self) -> &str {
        &self.row.email
    }

    /// Their display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Their level on the team.
    async fn access_level(&self) -> AccessLevel {
        self.row.access_level
    }

    /// Whether they have an MFA authenticator in Authentik; `null` when unknown (not invited
    /// through Authentik, or Authentik unreachable).
    async fn mfa_enrolled(&self) -> Option<bool> {
        self.upstream.map(|u| u.mfa_enrolled)
    }

    /// When they last signed in (from Authentik); `null` if never or unknown.
    async fn last_sign_in_at(&self) -> Option<DateTime<Utc>> {
        self.upstream.and_then(|u| u.last_sign_in)
    }

    /// Since when they are on the team.
    async fn added_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// `totalCount` of a partner's staff (one batched statement for every partner of a page).
pub struct StaffCount(pub PartnerId);

impl CountSource for StaffCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(StaffCountOfPartner(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a partner's staff (a Relay connection).
    StaffConnection, StaffMember, StaffCount
);
