//! The `Partner` type.

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, PartnerAccess, Viewer};
use crate::domain::branding::Owner;
use std::sync::Arc;

use crate::domain::ids::PartnerId;
pub use crate::domain::partners::PartnerStatus;
use crate::domain::partners::staff;
use crate::domain::partners::{PartnerFilter, PartnerRow};
use crate::error::{ApiResult, AppError};
use crate::graphql::billing::loaders::{PayoutsOfPartner, SummaryOfPartner};
use crate::graphql::billing::payouts::{
    BillingPeriodInput, BillingSummary, PayoutConnection, PayoutEntry, PayoutsCount,
};
use crate::graphql::branding::types::{Branding, EffectiveBranding};
use crate::graphql::connections::CountSource;
use crate::graphql::context::{loaders, require_partner};
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::loaders::ById;
use crate::graphql::money::Money;
use crate::graphql::node::NodeSource;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::partners::loaders::MrrOfPartner;
use crate::graphql::scalars::Long;
use crate::graphql::team::loaders::StaffOfPartner;
use crate::graphql::team::types::{StaffConnection, StaffCount, StaffMember};
use crate::graphql::tenants::loaders::{CustomerCountOfPartner, TenantsOfPartner};
use crate::graphql::tenants::types::{Tenant, TenantConnection, TenantsCount};
use crate::upstream::Upstreams;

/// A reseller that sells the suite to its own customers (tenants). Its identity is visible
/// to whoever may see one of its tenants; its commercial details (margin, contacts, billing,
/// customers, revenue) only to its staff and to operators.
pub struct Partner(pub PartnerRow);

impl Partner {
    /// Refuses the partner's commercial details to everyone but its staff and operators.
    async fn staff_only(&self, ctx: &Context<'_>) -> ApiResult<()> {
        require_partner(
            ctx,
            self.0.id,
            PartnerAccess::Staff,
            "visible to the partner's staff only",
        )
        .await
    }
}

/// A reseller that sells the suite to its own customers (tenants).
#[Object]
impl Partner {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::Partner, self.0.id.uuid()).to_id()
    }

    /// Human handle, unique.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The partner's own web domain, if known.
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    /// Lifecycle state.
    async fn status(&self) -> PartnerStatus {
        self.0.status
    }

    /// The partner's margin in percent (0–100, two decimals). Staff and operators only.
    async fn margin_pct(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        self.staff_only(ctx).await?;
        self.0.margin_pct.parse().map_err(|e| {
            AppError::internal(anyhow::anyhow!("margin {:?}: {e}", self.0.margin_pct)).into()
        })
    }

    /// Contact details (a JSON object). Staff and operators only.
    async fn contact_info(&self, ctx: &Context<'_>) -> ApiResult<Json<serde_json::Value>> {
        self.staff_only(ctx).await?;
        Ok(Json(self.0.contact_info.clone()))
    }

    /// Billing details (a JSON object). Staff and operators only.
    async fn billing_info(&self, ctx: &Context<'_>) -> ApiResult<Json<serde_json::Value>> {
        self.staff_only(ctx).await?;
        Ok(Json(self.0.billing_info.clone()))
    }

    /// How many customers (tenants not terminated) the partner has. Staff and operators only.
    async fn customer_count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        self.staff_only(ctx).await?;
        Ok(loaders(ctx)
            .db
            .load_one(CustomerCountOfPartner(self.0.id))
            .await?
            .unwrap_or(0))
    }

    /// Monthly recurring revenue of the partner's tenants, one entry per currency (paying
    /// subscriptions; yearly prices count a twelfth). Staff and operators only.
    async fn mrr(&self, ctx: &Context<'_>) -> ApiResult<Vec<Money>> {
        self.staff_only(ctx).await?;
        let rows = loaders(ctx)
            .db
            .load_one(MrrOfPartner(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| Money {
                amount_minor: Long(r.amount_minor),
                currency: r.currency.clone(),
            })
            .collect())
    }

    /// Whether billing runs platform-wide (Stripe configured, the `new_billing_engine` flag
    /// enabled). Staff and operators only.
    async fn billing_configured(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        self.staff_only(ctx).await?;
        crate::graphql::billing::gate::platform(ctx).await
    }

    /// The partner's ledger: an entry per paid invoice of its tenants, credit note and void,
    /// newest first (forward pages only). Staff and operators only.
    async fn payouts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last entry of the previous page.")] after: Option<String>,
    ) -> ApiResult<PayoutConnection> {
        self.staff_only(ctx).await?;
        let page = PageRequest::<i64>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = PayoutsOfPartner {
            partner: self.0.id,
            after: page.cursor,
            limit: page.limit,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let entries = rows.iter().cloned().map(PayoutEntry).collect();
        Ok(page
            .connection_with(entries, PayoutsCount(self.0.id), PayoutEntry::key)
            .into())
    }

    /// Revenue of the partner's tenants, the partner's cut and what is left, per currency,
    /// over `period` (from the ledger), and their invoices created in it that are still open.
    /// Staff and operators only.
    async fn billing_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period.")] period: BillingPeriodInput,
    ) -> ApiResult<BillingSummary> {
        self.staff_only(ctx).await?;
        let (from, to) = period.bounds()?;
        let configured = crate::graphql::billing::gate::platform(ctx).await?;
        let key = SummaryOfPartner {
            partner: self.0.id,
            from,
            to,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        Ok(BillingSummary::of(configured, &rows))
    }

    /// The partner's tenants, by slug (forward pages only). Staff and operators only.
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last tenant of the previous page.")] after: Option<String>,
    ) -> ApiResult<TenantConnection> {
        self.staff_only(ctx).await?;
        let page = PageRequest::<String>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = TenantsOfPartner {
            partner: self.0.id,
            after: page.cursor.clone(),
            limit: page.limit,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let tenants = rows.iter().cloned().map(Tenant).collect();
        Ok(page
            .connection_with(tenants, TenantsCount::OfPartner(self.0.id), Tenant::key)
            .into())
    }

    /// The partner's own team, by e-mail (forward pages only), with each person's level,
    /// MFA enrollment and last sign-in from Authentik (asked only when selected: two calls per
    /// person, at most 8 people at a time). Staff and operators only.
    async fn staff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last staff member of the previous page.")] after: Option<
            String,
        >,
    ) -> ApiResult<StaffConnection> {
        self.staff_only(ctx).await?;
        let page = PageRequest::<String>::parse(
            first,
            after,
            None,
            None,
            *ctx.data_unchecked::<PageLimits>(),
        )?;
        let key = StaffOfPartner {
            partner: self.0.id,
            after: page.cursor.clone(),
            limit: page.limit,
        };
        let rows = loaders(ctx).db.load_one(key).await?.unwrap_or_default();
        let look = ctx.look_ahead();
        let wanted = ["mfaEnrolled", "lastSignInAt"].iter().any(|f| {
            look.field("nodes").field(f).exists()
                || look.field("edges").field("node").field(f).exists()
        });
        let authentik = ctx.data_unchecked::<Arc<Upstreams>>().authentik.clone();
        let facts = match (&authentik, wanted) {
            (Some(client), true) => {
                let pks: Vec<i64> = rows
                    .iter()
                    .take(page.limit)
                    .filter_map(|r| r.authentik_user_pk)
                    .collect();
                staff::upstream_facts(client.as_ref(), &pks).await
            }
            _ => Default::default(),
        };
        let members = rows
            .iter()
            .cloned()
            .map(|row| {
                let upstream = row.authentik_user_pk.and_then(|pk| facts.get(&pk).copied());
                StaffMember { row, upstream }
            })
            .collect();
        Ok(page
            .connection_with(members, StaffCount(self.0.id), StaffMember::key)
            .into())
    }

    /// What the partner sets of its white-label branding itself (`null` fields are the
    /// defaults). Staff and operators only.
    async fn branding(&self, ctx: &Context<'_>) -> ApiResult<Branding> {
        self.staff_only(ctx).await?;
        let own = crate::graphql::branding::loaders::own(ctx, Owner::Partner(self.0.id)).await?;
        Ok(Branding((*own).clone()))
    }

    /// The partner's branding in force (its own values over the product defaults), which its
    /// tenants inherit field by field. Whoever sees the partner.
    async fn effective_branding(&self, ctx: &Context<'_>) -> ApiResult<EffectiveBranding> {
        let effective =
            crate::graphql::branding::loaders::effective_of_partner(ctx, self.0.id).await?;
        Ok(EffectiveBranding(effective))
    }

    /// When the partner was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the partner last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A partner is visible to whoever the access policy lets see it: its staff, and the members
/// of its tenants (its identity only).
impl NodeSource for Partner {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let id = PartnerId(id);
        if !viewer.partner_access(id).sees() {
            return Ok(None);
        }
        let row = loaders(ctx).db.load_one(ById::<PartnerRow>(id)).await?;
        Ok(row.map(|p| Self((*p).clone())))
    }
}

/// `totalCount` of the `partners` list: the partners the viewer may see that match the filter.
pub struct PartnersCount(pub PartnerFilter);

impl CountSource for PartnersCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<crate::db::DbPool>().get().await?;
        Ok(crate::domain::partners::count(&mut conn, &viewer, &self.0).await?)
    }
}

crate::connection_type!(
    /// A page of partners (a Relay connection).
    PartnerConnection, Partner, PartnersCount
);
