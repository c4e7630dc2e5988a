//! The `Member` type: a user's membership of a tenant.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::{TenantAccess, Viewer};
use crate::domain::ids::{MemberId, TenantId};
use crate::domain::members::limits::{self, PlanLimits};
use crate::domain::members::steps::{MemberEventRow, MemberStepRow};
use crate::domain::members::{
    MemberOperation, MemberRole, MemberRow, MemberStep, MembershipStatus,
};
use crate::domain::provisioning::StepStatus;
use crate::error::ApiResult;
use crate::graphql::connections::CountSource;
use crate::graphql::context::{loaders, require_tenant};
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::members::loaders::{
    LimitsOfTenant, MemberCountOfTenant, StepsOfMember, VisibleMember,
};
use crate::graphql::node::NodeSource;
use crate::graphql::users::types::User;

/// A user's membership of a tenant, with their role there.
pub struct Member(pub MemberRow);

impl Member {
    /// The sort key within the tenant (what a member cursor encodes).
    pub fn key(&self) -> (String, uuid::Uuid) {
        (self.0.email.to_lowercase(), self.0.user_id.uuid())
    }
}

/// A user's membership of a tenant, with their role there.
#[Object]
impl Member {
    /// Global id of the membership.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Member, self.0.id.uuid()).to_id()
    }

    /// The member.
    async fn user(&self) -> User {
        User {
            id: self.0.user_id,
            email: self.0.email.clone(),
            name: self.0.name.clone(),
        }
    }

    /// Their role in the tenant.
    async fn role(&self) -> MemberRole {
        self.0.role
    }

    /// Whether the membership grants access.
    async fn status(&self) -> MembershipStatus {
        self.0.status
    }

    /// When the user joined the tenant.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The steps of the member's latest operation (create, suspend, …) in the upstreams, in
    /// a fixed order (Authentik, Stalwart, oCIS); empty for a member who was never created
    /// or changed through the API.
    async fn steps(&self, ctx: &Context<'_>) -> ApiResult<Vec<MemberStepState>> {
        let rows = loaders(ctx)
            .db
            .load_one(StepsOfMember(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|row| MemberStepState {
                row: Arc::clone(row),
                tenant: self.0.tenant(),
            })
            .collect())
    }
}

/// One upstream step of a member's latest operation.
pub struct MemberStepState {
    row: Arc<MemberStepRow>,
    tenant: crate::auth::TenantRef,
}

/// One upstream step of a member's latest operation.
#[Object]
impl MemberStepState {
    /// Which upstream.
    async fn step(&self) -> MemberStep {
        self.row.step
    }

    /// Where it stands.
    async fn status(&self) -> StepStatus {
        self.row.status
    }

    /// Attempts made in the current operation.
    async fn attempts(&self) -> i32 {
        self.row.attempts
    }

    /// The last failure's message (tenant admins and above; `FORBIDDEN` for others).
    async fn last_error(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        require_tenant(
            ctx,
            self.tenant,
            TenantAccess::Admin,
            "visible to the tenant's admins only",
        )
        .await?;
        Ok(self.row.last_error.clone())
    }

    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// One event of a member operation (what `memberProgress` streams).
pub struct MemberEvent(pub Arc<MemberEventRow>);

/// One event of a member operation.
#[Object]
impl MemberEvent {
    /// Per-member sequence number, from 1, without gaps.
    async fn seq(&self) -> i32 {
        self.0.seq
    }

    /// The member's global id.
    async fn member_id(&self) -> ID {
        GlobalId::new(NodeType::Member, self.0.membership_id.uuid()).to_id()
    }

    /// The operation.
    async fn operation(&self) -> MemberOperation {
        self.0.operation
    }

    /// The step; null for the operation as a whole.
    async fn step(&self) -> Option<MemberStep> {
        self.0.step
    }

    /// The step's (or the operation's) status.
    async fn status(&self) -> StepStatus {
        self.0.status
    }

    /// What happened, for people.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The last event of the operation.
    async fn terminal(&self) -> bool {
        self.0.terminal
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A member is visible to whoever may see its tenant; the rule is applied in SQL
/// (`domain::members::visible`).
impl NodeSource for Member {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let key = VisibleMember {
            scope: Arc::new(viewer.scope()),
            id: MemberId(id),
        };
        let row = loaders(ctx).db.load_one(key).await?;
        Ok(row.map(|r| Self((*r).clone())))
    }
}

/// `totalCount` of a tenant's members (one batched statement for every tenant of a page).
pub struct MembersCount(pub TenantId);

impl CountSource for MembersCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(MemberCountOfTenant(self.0))
            .await?
            .unwrap_or(0))
    }
}

crate::connection_type!(
    /// A page of a tenant's members (a Relay connection).
    MemberConnection, Member, MembersCount
);

/// How full a tenant's seats are.
pub struct SeatUsage(pub TenantId);

/// How full a tenant's seats are (members of any status count).
#[Object]
impl SeatUsage {
    /// Members the tenant has.
    async fn used(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let used = MembersCount(self.0).count(ctx).await?;
        Ok(i32::try_from(used).unwrap_or(i32::MAX))
    }

    /// Seats of the tenant's subscription (or of its plan without one).
    async fn included(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.limits(ctx).await?.seats_included)
    }

    /// `used` as a percentage of `included`, rounded down.
    async fn percent(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(self.usage(ctx).await?.0)
    }

    /// The warning threshold reached: 80 or 100 (percent); null below 80 %.
    async fn warning(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        Ok(self.usage(ctx).await?.1)
    }
}

impl SeatUsage {
    async fn limits(&self, ctx: &Context<'_>) -> ApiResult<PlanLimits> {
        Ok(loaders(ctx)
            .db
            .load_one(LimitsOfTenant(self.0))
            .await?
            .unwrap_or(PlanLimits {
                seats_included: limits::DEFAULT_SEATS_INCLUDED,
                mailbox_quota_bytes: limits::DEFAULT_MAILBOX_QUOTA_BYTES,
                storage_quota_bytes: limits::DEFAULT_STORAGE_QUOTA_BYTES,
            }))
    }

    async fn usage(&self, ctx: &Context<'_>) -> ApiResult<(i32, Option<i32>)> {
        let used = MembersCount(self.0).count(ctx).await?;
        let included = self.limits(ctx).await?.seats_included;
        Ok(limits::usage(used, included))
    }
}
