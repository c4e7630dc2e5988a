//! The `Tenant` type.

use crate::graphql::connections::MemberConnection;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::ContextAuth;
use crate::db::models::TenantRow;
use crate::domain::flags::rules::TenantFacts;
use crate::domain::members::MemberKey;
use crate::error::{ApiResult, AppError};
use crate::graphql::billing::types::Subscription;
use crate::graphql::flags::types::FeatureFlagValue;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::loaders::{
    LiveFlags, Loaders, MembersOfTenant, PartnerById, SubscriptionOfTenant,
};
use crate::graphql::members::types::Member;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::partners::types::Partner;
use crate::graphql::provisioning::types::TenantProvisioning;
use crate::graphql::totals::Total;

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
    /// The database value.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Terminated => "terminated",
        }
    }

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

impl Tenant {
    /// What the flag evaluator knows about this tenant.
    pub fn facts(&self) -> TenantFacts<'_> {
        TenantFacts {
            id: self.0.id,
            partner_id: self.0.partner_id,
            plan: &self.0.plan,
        }
    }
}

/// A customer organisation using the suite.
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

    /// The partner (reseller) the tenant belongs to; `null` for a direct customer.
    async fn partner(&self, ctx: &Context<'_>) -> ApiResult<Option<Partner>> {
        let Some(id) = self.0.partner_id else {
            return Ok(None);
        };
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .db
            .load_one(PartnerById(id))
            .await?
            .map(|row| Partner((*row).clone())))
    }

    /// The tenant's members, by email (forward pages only).
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last member of the previous page.")] after: Option<String>,
    ) -> ApiResult<MemberConnection> {
        let page = PageRequest::<MemberKey>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = MembersOfTenant {
            tenant: self.0.id,
            after: page.cursor.clone(),
            limit: page.limit,
        };
        let rows = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(key)
            .await?
            .unwrap_or_default();
        let members = rows.iter().cloned().map(Member).collect();
        Ok(page
            .connection_with(members, Total::MembersOfTenant(self.0.id), Member::key)
            .into())
    }

    /// The current subscription. Tenant admins, the partner's staff and operators only.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<Subscription>> {
        let viewer = ctx.viewer().await?;
        let partner_staff = self
            .0
            .partner_id
            .is_some_and(|p| viewer.is_partner_staff(p));
        if !viewer.can_admin_tenant(self.0.id) && !partner_staff {
            return Err(
                AppError::Forbidden("billing is visible to tenant admins only".into()).into(),
            );
        }
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .db
            .load_one(SubscriptionOfTenant(self.0.id))
            .await?
            .map(Subscription))
    }

    /// Every live feature flag's value for this tenant, by key (one statement, whatever the
    /// number of flags). Archived flags are left out.
    async fn feature_flags(&self, ctx: &Context<'_>) -> ApiResult<Vec<FeatureFlagValue>> {
        let flags = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(LiveFlags)
            .await?
            .unwrap_or_default();
        let facts = self.facts();
        Ok(flags
            .iter()
            .map(|f| FeatureFlagValue {
                key: f.key.clone(),
                value: f.evaluate(&facts).0,
            })
            .collect())
    }

    /// One feature flag's value for this tenant. An unknown or archived key is `false`, with
    /// no error (fail closed).
    async fn feature_flag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The flag's key.")] key: String,
    ) -> ApiResult<bool> {
        let flags = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(LiveFlags)
            .await?
            .unwrap_or_default();
        Ok(flags
            .iter()
            .find(|f| f.key == key)
            .is_some_and(|f| f.evaluate(&self.facts()).0))
    }

    /// The tenant's provisioning: its steps (one upstream object each) and their recent
    /// events. Follow a run live with the `provisioningProgress` subscription.
    async fn provisioning(&self) -> TenantProvisioning {
        TenantProvisioning {
            tenant: self.0.id,
            partner: self.0.partner_id,
        }
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
