//! Feature flag mutations (operators): thin wrappers over `domain::flags::store`.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::domain::flags::changes::{self as store, FlagUpdate, NewFlag, RuleInput};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::flags::types::FeatureFlag;

/// One rule: name exactly one matcher, and the value it gives.
#[derive(InputObject)]
pub struct FeatureFlagRuleInput {
    /// Match these tenants (slugs).
    pub tenants: Option<Vec<String>>,
    /// Match every tenant of this partner (slug).
    pub partner: Option<String>,
    /// Match tenants on these plans.
    pub plans: Option<Vec<String>>,
    /// Match this share of tenants, 0–100 (stable per tenant; raising it keeps earlier ones).
    pub percentage: Option<f64>,
    /// The value for matching tenants.
    pub value: bool,
}

impl From<FeatureFlagRuleInput> for RuleInput {
    fn from(r: FeatureFlagRuleInput) -> Self {
        Self {
            tenants: r.tenants,
            partner: r.partner,
            plans: r.plans,
            percentage: r.percentage,
            value: r.value,
        }
    }
}

/// Input of `createFeatureFlag`.
#[derive(InputObject)]
pub struct CreateFeatureFlagInput {
    /// Unique key: 2–64 of a-z, 0-9 and `_`, starting with a letter.
    pub key: String,
    /// What the flag gates (at most 500 characters).
    pub description: Option<String>,
    /// The value when no rule matches.
    pub default_value: bool,
    /// On (default) or off.
    pub enabled: Option<bool>,
    /// Ordered rules; the first that matches a tenant decides.
    #[graphql(default)]
    pub rules: Vec<FeatureFlagRuleInput>,
}

/// Input of `updateFeatureFlag`. Omitted fields stay; `rules`, when given, replace all rules.
#[derive(InputObject)]
pub struct UpdateFeatureFlagInput {
    /// Key of the flag to change.
    pub key: String,
    /// New description.
    pub description: Option<String>,
    /// New default value.
    pub default_value: Option<bool>,
    /// Switch on or off.
    pub enabled: Option<bool>,
    /// New ordered rules (replace the old ones in one step).
    pub rules: Option<Vec<FeatureFlagRuleInput>>,
}

/// Input of `archiveFeatureFlag`.
#[derive(InputObject)]
pub struct ArchiveFeatureFlagInput {
    /// Key of the flag to archive.
    pub key: String,
}

/// The flag after a mutation.
#[derive(SimpleObject)]
pub struct FeatureFlagPayload {
    /// The flag as it is now.
    pub feature_flag: FeatureFlag,
}

/// Feature flag mutations.
#[derive(Default)]
pub struct FlagMutation;

#[Object]
impl FlagMutation {
    /// Creates a feature flag (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn create_feature_flag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new flag.")] input: CreateFeatureFlagInput,
    ) -> ApiResult<FeatureFlagPayload> {
        let new = NewFlag {
            key: input.key,
            description: input.description,
            default_value: input.default_value,
            enabled: input.enabled,
            rules: input.rules.into_iter().map(Into::into).collect(),
        };
        let row = store::create(&caller(ctx).await?, new).await?;
        Ok(FeatureFlagPayload {
            feature_flag: FeatureFlag(row),
        })
    }

    /// Changes a feature flag; new rules replace the old ones atomically (operators). Audited
    /// with the previous rules.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn update_feature_flag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The flag and what to change.")] input: UpdateFeatureFlagInput,
    ) -> ApiResult<FeatureFlagPayload> {
        let update = FlagUpdate {
            key: input.key,
            description: input.description,
            default_value: input.default_value,
            enabled: input.enabled,
            rules: input
                .rules
                .map(|rules| rules.into_iter().map(Into::into).collect()),
        };
        let row = store::update(&caller(ctx).await?, update).await?;
        Ok(FeatureFlagPayload {
            feature_flag: FeatureFlag(row),
        })
    }

    /// Archives a feature flag: kept, no longer evaluated; reads of it give `false`
    /// (operators). Audited.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn archive_feature_flag(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The flag to archive.")] input: ArchiveFeatureFlagInput,
    ) -> ApiResult<FeatureFlagPayload> {
        let row = store::archive(&caller(ctx).await?, input.key).await?;
        Ok(FeatureFlagPayload {
            feature_flag: FeatureFlag(row),
        })
    }
}
