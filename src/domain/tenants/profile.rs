//! What a tenant says about itself beside its row (`tenant_profiles`): its industry, from a
//! fixed list, and its brand colour. Changed through `updateTenant` (same access: the
//! tenant's admins, its partner's staff, operators).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::db::schema::tenant_profiles;
use crate::domain::branding::color::HexColor;
use crate::domain::ids::TenantId;
use crate::domain::patch::Patch;
use crate::error::AppResult;

crate::text_enum! {
    /// A tenant's industry.
    #[derive(async_graphql::Enum)]
    pub enum Industry {
        /// Software, IT and telecommunications.
        Technology = "technology",
        /// Banking, insurance and financial services.
        Finance = "finance",
        /// Health care and life sciences.
        Healthcare = "healthcare",
        /// Schools, universities and training.
        Education = "education",
        /// Public administration.
        Government = "government",
        /// Retail and e-commerce.
        Retail = "retail",
        /// Manufacturing and engineering.
        Manufacturing = "manufacturing",
        /// Media, publishing and marketing.
        Media = "media",
        /// Legal services.
        Legal = "legal",
        /// Charities and non-profit organisations.
        Nonprofit = "nonprofit",
        /// Hotels, restaurants and travel.
        Hospitality = "hospitality",
        /// Anything else.
        Other = "other",
    }
}

/// The `tenant_profiles` columns the graph reads.
#[derive(Queryable, Selectable, Debug, Clone, Default, PartialEq, Eq)]
#[diesel(table_name = tenant_profiles)]
pub struct ProfileRow {
    /// The tenant's industry.
    pub industry: Option<Industry>,
    /// Its brand colour, `#rrggbb`.
    pub brand_color: Option<String>,
}

/// Changes to a profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// Industry.
    pub industry: Patch<Industry>,
    /// Brand colour.
    pub brand_color: Patch<String>,
}

impl ProfileUpdate {
    /// Whether anything changes.
    pub fn changes(&self) -> bool {
        self.industry.changes() || self.brand_color.changes()
    }
}

/// The profiles of `ids`, in one statement (a tenant without a row has an empty profile).
pub async fn by_tenants(
    conn: &mut AsyncPgConnection,
    ids: &[TenantId],
) -> QueryResult<HashMap<TenantId, ProfileRow>> {
    let rows: Vec<(TenantId, ProfileRow)> = tenant_profiles::table
        .filter(tenant_profiles::tenant_id.eq_any(ids))
        .select((tenant_profiles::tenant_id, ProfileRow::as_select()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Validates and applies `update` to `tenant` (inside the caller's change), recording the
/// changed fields in `details`.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    update: ProfileUpdate,
    details: &mut serde_json::Map<String, serde_json::Value>,
) -> AppResult<()> {
    if !update.changes() {
        return Ok(());
    }
    let brand_color = update
        .brand_color
        .try_map(|c| HexColor::parse(&c, "input.brandColor").map(|c| c.as_str().to_owned()))?;
    let current = by_tenants(conn, &[tenant])
        .await?
        .remove(&tenant)
        .unwrap_or_default();
    let industry = match update.industry {
        Patch::Keep => current.industry,
        Patch::Clear => None,
        Patch::Set(i) => Some(i),
    };
    let brand_color = match brand_color {
        Patch::Keep => current.brand_color.clone(),
        Patch::Clear => None,
        Patch::Set(c) => Some(c),
    };
    if industry != current.industry {
        details.insert(
            "industry".into(),
            json!({ "from": current.industry.map(Industry::as_str), "to": industry.map(Industry::as_str) }),
        );
    }
    if brand_color != current.brand_color {
        details.insert(
            "brandColor".into(),
            json!({ "from": current.brand_color, "to": brand_color }),
        );
    }
    diesel::insert_into(tenant_profiles::table)
        .values((
            tenant_profiles::tenant_id.eq(tenant),
            tenant_profiles::industry.eq(industry),
            tenant_profiles::brand_color.eq(&brand_color),
        ))
        .on_conflict(tenant_profiles::tenant_id)
        .do_update()
        .set((
            tenant_profiles::industry.eq(industry),
            tenant_profiles::brand_color.eq(&brand_color),
            tenant_profiles::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
