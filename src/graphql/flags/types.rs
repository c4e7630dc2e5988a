//! Feature flag types.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::flags::FlagRow;
use crate::domain::flags::rules::{FlagDefinition, Matcher, TenantFacts};
use crate::error::ApiResult;
use crate::graphql::connections::CountSource;
use crate::graphql::context::loaders;
use crate::graphql::flags::loaders::AllTenantFacts;
use crate::graphql::ids::{GlobalId, NodeType};

/// What a rule matches on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureFlagRuleKind {
    /// Listed tenants.
    Tenants,
    /// Every tenant of a partner.
    Partner,
    /// Tenants on listed plans.
    Plans,
    /// A stable share of all tenants.
    Percentage,
}

/// One rule of a flag (rules are ordered; the first that matches a tenant decides).
#[derive(SimpleObject)]
pub struct FeatureFlagRule {
    /// What it matches on.
    pub kind: FeatureFlagRuleKind,
    /// The value it gives matching tenants.
    pub value: bool,
    /// The listed tenants (kind `TENANTS`), as global ids.
    pub tenant_ids: Option<Vec<ID>>,
    /// The partner (kind `PARTNER`), as a global id.
    pub partner_id: Option<ID>,
    /// The listed plans (kind `PLANS`).
    pub plans: Option<Vec<String>>,
    /// The share of tenants in percent (kind `PERCENTAGE`).
    pub percentage: Option<f64>,
    /// How many tenants (not terminated) this rule decides today: those it matches that no
    /// earlier rule matched.
    pub matched_tenants: i64,
}

/// A feature flag (operators).
pub struct FeatureFlag(pub FlagRow);

/// A flag's value for a tenant.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct FeatureFlagValue {
    /// The flag's key.
    pub key: String,
    /// Its value for the tenant.
    pub value: bool,
}

/// A feature flag: its default, its switch, and its ordered rules.
#[Object]
impl FeatureFlag {
    /// Unique key, e.g. `new_billing`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// What the flag gates.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The value when no rule matches, and whenever the flag is disabled.
    async fn default_value(&self) -> bool {
        self.0.default_value
    }

    /// The switch: a disabled flag ignores its rules.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// When the flag was archived; an archived flag evaluates to `false` everywhere.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    /// The ordered rules, with how many tenants each decides today.
    async fn rules(&self, ctx: &Context<'_>) -> ApiResult<Vec<FeatureFlagRule>> {
        let definition: FlagDefinition = self.0.definition()?;
        let mut counts = vec![0i64; definition.rules.len()];
        if ctx.look_ahead().field("matchedTenants").exists() {
            let facts = loaders(ctx)
                .db
                .load_one(AllTenantFacts)
                .await?
                .unwrap_or_default();
            let enabled = FlagDefinition {
                enabled: true,
                ..definition.clone()
            };
            for (id, partner_id, plan) in facts.iter() {
                let tenant = TenantFacts {
                    id: *id,
                    partner_id: *partner_id,
                    plan,
                };
                if let (_, Some(i)) = enabled.evaluate(&tenant) {
                    counts[i] += 1;
                }
            }
        }
        Ok(definition
            .rules
            .iter()
            .zip(counts)
            .map(|(rule, matched)| {
                let mut out = FeatureFlagRule {
                    kind: FeatureFlagRuleKind::Tenants,
                    value: rule.value,
                    tenant_ids: None,
                    partner_id: None,
                    plans: None,
                    percentage: None,
                    matched_tenants: matched,
                };
                match &rule.matcher {
                    Matcher::Tenants { tenant_ids } => {
                        out.tenant_ids = Some(
                            tenant_ids
                                .iter()
                                .map(|t| GlobalId::new(NodeType::Tenant, *t).to_id())
                                .collect(),
                        );
                    }
                    Matcher::Partner { partner_id } => {
                        out.kind = FeatureFlagRuleKind::Partner;
                        out.partner_id =
                            Some(GlobalId::new(NodeType::Partner, *partner_id).to_id());
                    }
                    Matcher::Plans { plans } => {
                        out.kind = FeatureFlagRuleKind::Plans;
                        out.plans = Some(plans.clone());
                    }
                    Matcher::Percentage { basis_points } => {
                        out.kind = FeatureFlagRuleKind::Percentage;
                        out.percentage = Some(f64::from(*basis_points) / 100.0);
                    }
                }
                out
            })
            .collect())
    }

    /// When the flag was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the flag last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// `totalCount` of `featureFlags` (archived ones too when true).
pub struct FlagsCount(pub bool);

impl CountSource for FlagsCount {
    async fn count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let mut conn = ctx.data_unchecked::<crate::db::DbPool>().get().await?;
        Ok(crate::domain::flags::count(&mut conn, self.0).await?)
    }
}

crate::connection_type!(
    /// A page of feature flags (a Relay connection).
    FeatureFlagConnection, FeatureFlag, FlagsCount
);
