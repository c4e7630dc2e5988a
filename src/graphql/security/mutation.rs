//! Security mutations: thin wrappers over `domain::security::changes`.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::auth::ContextAuth;
use crate::domain::security::rules::PolicyChange;
use crate::domain::security::{MfaMode, changes};
use crate::error::ApiResult;
use crate::graphql::context::caller;
use crate::graphql::security::types::SecurityPolicy;

/// Input of `updateSecurityPolicy`: omitted fields stay; a list replaces the whole list.
#[derive(InputObject)]
pub struct UpdateSecurityPolicyInput {
    /// Slug of the tenant.
    pub tenant: String,
    /// Who must use a second factor.
    pub mfa_mode: Option<MfaMode>,
    /// Minutes of inactivity after which a session ends (5–1440, at most the absolute
    /// timeout).
    pub session_idle_minutes: Option<i32>,
    /// Hours after which a session ends regardless (1–720).
    pub session_absolute_hours: Option<i32>,
    /// ISO 3166-1 alpha-2 codes (any case); empty: anywhere.
    pub allowed_countries: Option<Vec<String>>,
    /// IPv4/IPv6 addresses or CIDR blocks (at most 100; normalised); empty: anywhere.
    pub ip_allowlist: Option<Vec<String>>,
    /// Required when the new allowlist or countries would refuse the caller's own requests.
    #[graphql(default)]
    pub confirm_lockout: bool,
}

/// The policy after `updateSecurityPolicy`.
#[derive(SimpleObject)]
pub struct UpdateSecurityPolicyPayload {
    /// The tenant's policy now.
    pub policy: SecurityPolicy,
}

/// Security mutations.
#[derive(Default)]
pub struct SecurityMutation;

#[Object]
impl SecurityMutation {
    /// Changes a tenant's security policy (its owners and admins, its partner's staff,
    /// operators). Bad CIDR blocks, unknown countries and out-of-range timeouts are
    /// `BAD_USER_INPUT` naming the field; a rule that would refuse the caller's own requests
    /// needs `confirmLockout: true`. Audited (`security.update_policy`, before and after).
    async fn update_security_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant and the fields to change.")] input: UpdateSecurityPolicyInput,
    ) -> ApiResult<UpdateSecurityPolicyPayload> {
        let caller = caller(ctx).await?;
        let change = PolicyChange {
            mfa_mode: input.mfa_mode,
            session_idle_minutes: input.session_idle_minutes,
            session_absolute_hours: input.session_absolute_hours,
            allowed_countries: input.allowed_countries,
            ip_allowlist: input.ip_allowlist,
        };
        let policy =
            changes::update_policy(&caller, &input.tenant, change, input.confirm_lockout).await?;
        let geoip = ctx.client_network().geoip;
        Ok(UpdateSecurityPolicyPayload {
            policy: SecurityPolicy { policy, geoip },
        })
    }
}
