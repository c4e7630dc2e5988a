//! `me`: who the caller is, as the database knows them.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use crate::auth::context::AuthServices;
use crate::auth::{Audience, ContextAuth, Viewer};
use crate::db::DbPool;
use crate::domain::members::{MemberRole, MembershipStatus};
use crate::domain::partners::AccessLevel;
use crate::domain::{self, audit::Actor};
use crate::error::ApiResult;
use crate::graphql::impersonation::types::ViewerImpersonation;
use crate::graphql::users::types::User;
use crate::request_id::RequestId;

/// One of the caller's tenant memberships.
#[derive(SimpleObject)]
pub struct ViewerMembership {
    /// The tenant's slug.
    pub tenant_slug: String,
    /// The caller's role there.
    pub role: MemberRole,
    /// Whether the membership grants access.
    pub status: MembershipStatus,
}

/// One of the caller's partner staff positions.
#[derive(SimpleObject)]
pub struct ViewerPartnerRole {
    /// The partner's slug.
    pub partner_slug: String,
    /// The caller's level there.
    pub access_level: AccessLevel,
}

/// The caller: their user, where they belong, and what they may do.
#[derive(SimpleObject)]
#[graphql(name = "Viewer")]
pub struct ViewerObject {
    /// The user record.
    pub user: User,
    /// Which frontend the token was issued for.
    pub audience: Audience,
    /// Whether the user is platform staff (`platform_admin` in the database).
    pub platform_admin: bool,
    /// Whether operator powers apply to this request: an operator-audience token and
    /// `platformAdmin`.
    pub operator: bool,
    /// Tenant memberships.
    pub memberships: Vec<ViewerMembership>,
    /// Partner staff positions.
    pub partner_roles: Vec<ViewerPartnerRole>,
    /// Set while an operator acts as this user (an impersonation token): who, why and until
    /// when, for the portal's banner. `null` otherwise.
    pub impersonation: Option<ViewerImpersonation>,
}

impl From<&Viewer> for ViewerObject {
    fn from(v: &Viewer) -> Self {
        Self {
            user: User {
                id: v.user_id,
                email: v.email.clone(),
                name: v.name.clone(),
            },
            audience: v.audience,
            platform_admin: v.platform_admin,
            operator: v.is_operator(),
            memberships: v
                .memberships
                .iter()
                .map(|m| ViewerMembership {
                    tenant_slug: m.tenant_slug.clone(),
                    role: m.role,
                    status: m.status,
                })
                .collect(),
            partner_roles: v
                .partner_roles
                .iter()
                .map(|r| ViewerPartnerRole {
                    partner_slug: r.partner_slug.clone(),
                    access_level: r.access_level,
                })
                .collect(),
            impersonation: v.impersonation.as_ref().map(ViewerImpersonation::from),
        }
    }
}

/// `me`.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The caller. Creates the user on first sight of a token's subject, keeps email and
    /// name in sync, and applies the token's `groups` claim: the platform admin group sets
    /// `platformAdmin`, a group named after a tenant slug adds a membership (each change
    /// audited). This is the bootstrap path; everything else reads the database only.
    /// The claim is applied once per operation, however many times `me` is selected.
    #[graphql(complexity = "5 + child_complexity")]
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<ViewerObject> {
        let viewer = match ctx.data_opt::<RequestScope>() {
            Some(scope) => scope.me.get_or_init(|| sync(ctx)).await.clone()?,
            None => sync(ctx).await?,
        };
        Ok(ViewerObject::from(viewer.as_ref()))
    }
}

/// State that lives for one operation (request data, added by [`crate::graphql::edge`]).
#[derive(Default)]
pub struct RequestScope {
    /// The caller after `me` applied the groups claim: once per operation, whatever the
    /// number of aliases.
    me: tokio::sync::OnceCell<ApiResult<Arc<Viewer>>>,
}

/// Applies the token's groups claim and returns the caller as the database now knows them.
async fn sync(ctx: &Context<'_>) -> ApiResult<Arc<Viewer>> {
    let token = ctx.verified_token().await?;
    let viewer = ctx.viewer().await?;
    let services = ctx.data_unchecked::<Arc<AuthServices>>();
    let pool = ctx.data_unchecked::<DbPool>();
    let mut conn = pool.get().await?;
    let actor = Actor::of(
        Some(&viewer),
        ctx.data_opt::<RequestId>().map(|r| r.to_string()),
        ctx.data_opt::<ClientIp>().map(|ip| ip.0.clone()),
    );
    let groups = token.claims.groups.as_deref();
    if domain::users::sync_groups(&mut conn, &viewer, groups, &services.admin_group, &actor).await?
    {
        let mut fresh = domain::users::load_viewer(&mut conn, &token).await?;
        fresh.network = ctx.client_network();
        return Ok(Arc::new(fresh));
    }
    Ok(viewer)
}

/// The client's IP address (request data), recorded in audit rows.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);
