//! The `Partner` type.

use crate::graphql::connections::TenantConnection;
use async_graphql::{Context, Enum, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::auth::ContextAuth;
use crate::db::models::PartnerRow;
use crate::error::{ApiResult, AppError};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::loaders::{CustomerCountOfPartner, Loaders, MrrOfPartner, TenantsOfPartner};
use crate::graphql::money::Money;
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::scalars::Long;
use crate::graphql::tenants::types::Tenant;
use crate::graphql::totals::Total;

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
    /// The database value.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Terminated => "terminated",
        }
    }

    /// From the database value.
    pub fn from_db(value: &str) -> Self {
        match value {
            "suspended" => Self::Suspended,
            "terminated" => Self::Terminated,
            _ => Self::Active,
        }
    }
}

/// A reseller that sells the suite to its own customers (tenants). Its identity is visible
/// to whoever may see one of its tenants; its commercial details (margin, contacts, billing,
/// customers, revenue) only to its staff and to operators.
pub struct Partner(pub PartnerRow);

impl Partner {
    /// Refuses the partner's commercial details to everyone but its staff and operators.
    async fn staff_only(&self, ctx: &Context<'_>) -> ApiResult<()> {
        if ctx.viewer().await?.can_see_partner(self.0.id) {
            Ok(())
        } else {
            Err(AppError::Forbidden("visible to the partner's staff only".into()).into())
        }
    }
}

/// A reseller that sells the suite to its own customers (tenants).
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

    /// The partner's own web domain, if known.
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    /// Lifecycle state.
    async fn status(&self) -> PartnerStatus {
        PartnerStatus::from_db(&self.0.status)
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
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .db
            .load_one(CustomerCountOfPartner(self.0.id))
            .await?
            .unwrap_or(0))
    }

    /// Monthly recurring revenue of the partner's tenants, one entry per currency (paying
    /// subscriptions; yearly prices count a twelfth). Staff and operators only.
    async fn mrr(&self, ctx: &Context<'_>) -> ApiResult<Vec<Money>> {
        self.staff_only(ctx).await?;
        let loaders = ctx.data_unchecked::<Loaders>();
        let rows = loaders
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
        let rows = ctx
            .data_unchecked::<Loaders>()
            .db
            .load_one(key)
            .await?
            .unwrap_or_default();
        let tenants = rows.iter().cloned().map(Tenant).collect();
        Ok(page
            .connection_with(tenants, Total::TenantsOfPartner(self.0.id), |t: &Tenant| {
                t.0.slug.clone()
            })
            .into())
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
