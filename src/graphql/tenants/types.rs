//! The `Tenant` type, its connection and its `Node` source.

use crate::graphql::health::{Health, HealthOfTenant};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, TenantAccess, Viewer};
use crate::domain::branding::Owner;
use crate::domain::flags::rules::TenantFacts;
use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::members::MemberKey;
use crate::domain::partners::PartnerRow;
pub use crate::domain::tenants::TenantStatus;
use crate::domain::tenants::profile::{Industry, ProfileRow};
use crate::domain::tenants::{TenantFilter, TenantRow};
use crate::error::{ApiResult, AppError};
use crate::graphql::billing::invoices::{Invoice, InvoiceConnection, InvoicesCount};
use crate::graphql::billing::loaders::{
    DetailsOfTenant, InvoicesOfTenant, PlanByKey, SubscriptionOfTenant,
};
use crate::graphql::billing::plans::Plan;
use crate::graphql::billing::types::Subscription;
use crate::graphql::branding::types::{Branding, EffectiveBranding};
use crate::graphql::connections::CountSource;
use crate::graphql::context::{loaders, require_tenant};
use crate::graphql::domains::loaders::{DomainsNeedingAttention, DomainsOfTenant};
use crate::graphql::domains::types::{Domain, DomainConnection, DomainsCount};
use crate::graphql::flags::loaders::LiveFlags;
use crate::graphql::flags::types::FeatureFlagValue;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::impersonation::loaders::SessionsOfTenant;
use crate::graphql::impersonation::types::ImpersonationSession;
use crate::graphql::loaders::ById;
use crate::graphql::members::loaders::MembersOfTenant;
use crate::graphql::members::types::{Member, MemberConnection, MembersCount};
use crate::graphql::node::NodeSource;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::partners::types::Partner;
use crate::graphql::provisioning::types::TenantProvisioning;
use crate::graphql::tenants::loaders::{ProfileOfTenant, TenantCountOfPartner};

/// A customer organisation using the suite.
pub struct Tenant(pub TenantRow);

impl Tenant {
    /// What the flag evaluator knows about this tenant.
    pub fn facts(&self) -> TenantFacts<'_> {
        TenantFacts {
            id: self.0.id.uuid(),
            partner_id: self.0.partner_id.map(|p| p.uuid()),
            plan: &self.0.plan,
        }
    }

    /// The tenant's profile (batched for every tenant of a page).
    async fn profile(&self, ctx: &Context<'_>) -> ApiResult<ProfileRow> {
        Ok(loaders(ctx)
            .db
            .load_one(ProfileOfTenant(self.0.id))
            .await?
            .unwrap_or_default())
    }

    /// Refuses billing to everyone but tenant admins, the partner's staff and operators.
    async fn billing_admin(&self, ctx: &Context<'_>) -> ApiResult<()> {
        require_tenant(
            ctx,
            self.0.tenant_ref(),
            TenantAccess::Admin,
            "billing is visible to tenant admins only",
        )
        .await
    }

    /// The tenant's sort key in lists (what a tenant cursor encodes).
    pub fn key(&self) -> String {
        self.0.slug.clone()
    }
}

/// A customer organisation using the suite.
#[Object]
impl Tenant {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Tenant, self.0.id.uuid()).to_id()
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
        self.0.status
    }

    /// The plan the tenant is on (an entry of the plan catalogue).
    async fn plan(&self, ctx: &Context<'_>) -> ApiResult<Plan> {
        loaders(ctx)
            .db
            .load_one(PlanByKey(self.0.plan.clone()))
            .await?
            .map(Plan)
            .ok_or_else(|| AppError::NotFound { what: "plan" }.into())
    }

    /// The tenant's primary mail domain, if set.
    async fn primary_domain(&self) -> Option<&str> {
        self.0.primary_domain.as_deref()
    }

    /// The tenant's industry, if given.
    async fn industry(&self, ctx: &Context<'_>) -> ApiResult<Option<Industry>> {
        Ok(self.profile(ctx).await?.industry)
    }

    /// The tenant's brand colour (`#rrggbb`), if set.
    async fn brand_color(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self.profile(ctx).await?.brand_color)
    }

    /// The partner (reseller) the tenant belongs to; `null` for a direct customer.
    async fn partner(&self, ctx: &Context<'_>) -> ApiResult<Option<Partner>> {
        let Some(id) = self.0.partner_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)
            .db
            .load_one(ById::<PartnerRow>(id))
            .await?
            .map(|row| Partner((*row).clone())))
    }

    /// How many of its seats the tenant uses, with the 80 % / 100 % warning.
    async fn seat_usage(&self) -> crate::graphql::members::types::SeatUsage {
        crate::graphql::members::types::SeatUsage(self.0.id)
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
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let members = rows.iter().cloned().map(Member).collect();
        Ok(page
            .connection_with(members, MembersCount(self.0.id), Member::key)
            .into())
    }

    /// The tenant's mail domains, by name (forward pages only).
    async fn domains(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last domain of the previous page.")] after: Option<String>,
    ) -> ApiResult<DomainConnection> {
        let page = PageRequest::<String>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = DomainsOfTenant {
            tenant: self.0.id,
            after: page.cursor.clone(),
            limit: page.limit,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let domains = rows.iter().cloned().map(Domain).collect();
        Ok(page
            .connection_with(domains, DomainsCount(self.0.id), Domain::key)
            .into())
    }

    /// How many of the tenant's domains need attention (any status but `VERIFIED`); one
    /// statement for every tenant of a page.
    async fn domains_needing_attention(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loaders(ctx)
            .db
            .load_one(DomainsNeedingAttention(self.0.id))
            .await?
            .unwrap_or(0))
    }

    /// The newest impersonation sessions concerning the tenant (named for it, or of one of
    /// its members), newest first: who acted as whom, why, and until when. Tenant admins and
    /// operators only; one statement for every tenant of a page.
    async fn impersonation_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 20, at most 100).")] first: Option<i32>,
    ) -> ApiResult<Vec<ImpersonationSession>> {
        let viewer = ctx.viewer().await?;
        let access = viewer.tenant_access(self.0.tenant_ref());
        if !matches!(
            access,
            TenantAccess::Admin | TenantAccess::Owner | TenantAccess::Operator
        ) {
            return Err(crate::error::AppError::Forbidden(
                "impersonation sessions are visible to tenant admins only".into(),
            )
            .into());
        }
        let limits = *ctx.data_unchecked::<PageLimits>();
        let limit = match first {
            None => limits.default,
            Some(n) if n >= 0 && (n as usize) <= limits.max => n as usize,
            Some(_) => {
                return Err(crate::error::AppError::bad_input(
                    "first",
                    format!("must be between 0 and {}", limits.max),
                )
                .into());
            }
        };
        let rows = loaders(ctx)
            .db
            .load_one(SessionsOfTenant {
                tenant: self.0.id,
                limit,
            })
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| ImpersonationSession(r.session.clone()))
            .collect())
    }

    /// The tenant's security policy and where each field is enforced. Tenant admins, the
    /// partner's staff and operators only; one statement for every tenant of a page.
    async fn security_policy(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<crate::graphql::security::types::SecurityPolicy> {
        crate::graphql::security::fields::security_policy(ctx, &self.0).await
    }

    /// MFA enrollment of the tenant's active members, from Authentik (tenant owners, admins
    /// and operators). Fetched with bounded concurrency and cached briefly; when Authentik
    /// fails this field is `null` with an error for this tenant only.
    async fn mfa_status(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::graphql::security::types::MfaStatus>> {
        crate::graphql::security::fields::mfa_status(ctx, &self.0)
            .await
            .map(Some)
    }

    /// The tenant's file storage from its oCIS space; `null` while the space is not
    /// provisioned. Tenant admins, the partner's staff and operators; bounded concurrency,
    /// cached briefly; an oCIS failure is an error on this tenant only.
    async fn storage(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::graphql::security::types::Storage>> {
        crate::graphql::security::fields::storage(ctx, &self.0).await
    }

    /// The tenant's SSO apps, by name (tenant admins, the partner's staff, operators); one
    /// statement for every tenant of a page.
    async fn sso_apps(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<crate::graphql::security::sso_apps::SsoApp>> {
        crate::graphql::security::fields::sso_apps(ctx, &self.0).await
    }

    /// The tenant's invoices, newest first (forward pages only). Tenant admins, the
    /// partner's staff and operators only.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last invoice of the previous page.")] after: Option<String>,
    ) -> ApiResult<InvoiceConnection> {
        require_tenant(
            ctx,
            self.0.tenant_ref(),
            TenantAccess::Admin,
            "billing is visible to tenant admins only",
        )
        .await?;
        let page = PageRequest::<String>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = InvoicesOfTenant {
            tenant: self.0.id,
            after: page.cursor.clone(),
            limit: page.limit,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let invoices = rows.iter().cloned().map(Invoice).collect();
        Ok(page
            .connection_with(invoices, InvoicesCount(self.0.id), Invoice::key)
            .into())
    }

    /// The tenant's health: a score, its band and the reasons (rules in the README, "Tenant
    /// health"). Tenant admins, the partner's staff and operators only.
    async fn health(&self, ctx: &Context<'_>) -> ApiResult<Option<Health>> {
        require_tenant(
            ctx,
            self.0.tenant_ref(),
            TenantAccess::Admin,
            "health is visible to tenant admins only",
        )
        .await?;
        Ok(loaders(ctx)
            .db
            .load_one(HealthOfTenant(self.0.id))
            .await?
            .map(Health))
    }

    /// The current subscription. Tenant admins, the partner's staff and operators only.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<Subscription>> {
        require_tenant(
            ctx,
            self.0.tenant_ref(),
            TenantAccess::Admin,
            "billing is visible to tenant admins only",
        )
        .await?;
        Ok(loaders(ctx)
            .db
            .load_one(SubscriptionOfTenant(self.0.id))
            .await?
            .map(Subscription))
    }

    /// Whether billing runs for this tenant: Stripe is configured and the `new_billing_engine`
    /// flag is on for it. When `false`, `paymentMethod` is `null` and the billing mutations
    /// answer `CONFLICT`; nothing calls Stripe. Tenant admins, the partner's staff and
    /// operators only.
    async fn billing_configured(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        self.billing_admin(ctx).await?;
        crate::graphql::billing::gate::for_tenant(ctx, self).await
    }

    /// What the tenant's invoices are addressed to (`null` until set). Tenant admins, the
    /// partner's staff and operators only.
    async fn billing_details(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::graphql::billing::details::BillingDetails>> {
        self.billing_admin(ctx).await?;
        Ok(loaders(ctx)
            .db
            .load_one(DetailsOfTenant(self.0.id))
            .await?
            .map(|row| (*row).clone().into()))
    }

    /// The default card, read from Stripe (nothing of it is stored here); `null` without one
    /// or when billing is not configured. Tenant admins, the partner's staff and operators
    /// only.
    async fn payment_method(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::graphql::billing::payment::PaymentMethod>> {
        self.billing_admin(ctx).await?;
        crate::graphql::billing::payment::of(ctx, self).await
    }

    /// Every live feature flag's value for this tenant, by key (one statement, whatever the
    /// number of flags). Archived flags are left out.
    async fn feature_flags(&self, ctx: &Context<'_>) -> ApiResult<Vec<FeatureFlagValue>> {
        let flags = loaders(ctx)
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
        let flags = loaders(ctx)
            .db
            .load_one(LiveFlags)
            .await?
            .unwrap_or_default();
        Ok(flags
            .iter()
            .find(|f| f.key == key)
            .is_some_and(|f| f.evaluate(&self.facts()).0))
    }

    /// What the tenant sets of its white-label branding itself (`null` fields are
    /// inherited). Whoever sees the tenant.
    async fn branding(&self, ctx: &Context<'_>) -> ApiResult<Branding> {
        let own = crate::graphql::branding::loaders::own(ctx, Owner::Tenant(self.0.id)).await?;
        Ok(Branding((*own).clone()))
    }

    /// The branding in force for the tenant: each field its own, else its partner's, else
    /// the product default, with where each came from. Whoever sees the tenant.
    async fn effective_branding(&self, ctx: &Context<'_>) -> ApiResult<EffectiveBranding> {
        let effective = crate::graphql::branding::loaders::effective_of_tenant(
            ctx,
            self.0.id,
            self.0.partner_id,
        )
        .await?;
        Ok(EffectiveBranding(effective))
    }

    /// The tenant's provisioning: its steps (one upstream object each) and their recent
    /// events. Follow a run live with the `provisioningProgress` subscription.
    async fn provisioning(&self) -> TenantProvisioning {
        TenantProvisioning {
            tenant: self.0.tenant_ref(),
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

/// A tenant is visible to whoever the access policy lets see it.
impl NodeSource for Tenant {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let row = loaders(ctx)
            .db
            .load_one(ById::<TenantRow>(TenantId(id)))
            .await?;
        Ok(row
            .filter(|t| viewer.tenant_access(t.tenant_ref()).sees())
            .map(|t| Self((*t).clone())))
    }
}

/// `totalCount` of a tenant list.
pub enum TenantsCount {
    /// The tenants the viewer may see that match a filter.
    Visible(TenantFilter),
    /// A partner's tenants, any status (one batched statement for every partner of a page).
    OfPartner(PartnerId),
}

impl CountSource for TenantsCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        match self {
            Self::Visible(filter) => {
                let viewer = ctx.viewer().await?;
                let mut conn = ctx.data_unchecked::<crate::db::DbPool>().get().await?;
                Ok(crate::domain::tenants::count(&mut conn, &viewer, filter).await?)
            }
            Self::OfPartner(id) => Ok(loaders(ctx)
                .db
                .load_one(TenantCountOfPartner(*id))
                .await?
                .unwrap_or(0)),
        }
    }
}

crate::connection_type!(
    /// A page of tenants (a Relay connection).
    TenantConnection, Tenant, TenantsCount
);
