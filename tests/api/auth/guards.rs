//! The access checks resolvers use (`graphql::context`: the operator guard and the policy
//! level checks over `auth::policy`), allowed and denied, on a probe schema that uses the
//! app's own pool and token verifier, so they run exactly as on the real schema.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Request, Schema};
use platform_api::auth::{AuthContext, ContextAuth, PartnerAccess, TenantAccess};
use platform_api::db::DbPool;
use platform_api::domain::{partners, tenants};
use platform_api::error::ApiResult;
use platform_api::graphql::context::{Operator, require_partner, require_tenant};
use serde_json::Value;

use crate::support::world::Arrange;
use crate::support::{Level, Role, Tenant, Token, World};

struct Probe;

impl Probe {
    async fn tenant(ctx: &Context<'_>, slug: &str, level: TenantAccess) -> ApiResult<bool> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let row = tenants::visible_by_slug(&mut conn, &viewer, slug).await?;
        require_tenant(ctx, row.tenant_ref(), level, "not enough access").await?;
        Ok(true)
    }
}

#[Object]
impl Probe {
    async fn authenticated(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        ctx.viewer().await?;
        Ok(true)
    }
    #[graphql(guard = "Operator")]
    async fn operator(&self) -> bool {
        true
    }
    async fn tenant_member(&self, ctx: &Context<'_>, slug: String) -> ApiResult<bool> {
        Self::tenant(ctx, &slug, TenantAccess::Member).await
    }
    async fn tenant_admin(&self, ctx: &Context<'_>, slug: String) -> ApiResult<bool> {
        Self::tenant(ctx, &slug, TenantAccess::Admin).await
    }
    async fn partner_staff(&self, ctx: &Context<'_>, slug: String) -> ApiResult<bool> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let row = partners::visible_by_slug(&mut conn, &viewer, &slug).await?;
        require_partner(ctx, row.id, PartnerAccess::Staff, "staff only").await?;
        Ok(true)
    }
    async fn partner_owns_tenant(&self, ctx: &Context<'_>, slug: String) -> ApiResult<bool> {
        Self::tenant(ctx, &slug, TenantAccess::PartnerStaff).await
    }
}

struct Harness {
    w: World,
    schema: Schema<Probe, EmptyMutation, EmptySubscription>,
}

impl Harness {
    async fn new(arrange: Arrange) -> Self {
        let w = arrange.spawn().await;
        let schema = Schema::build(Probe, EmptyMutation, EmptySubscription)
            .data(w.state.pool.clone())
            .data(Arc::clone(&w.state.auth))
            .finish();
        Self { w, schema }
    }

    /// `None` when allowed, else the error code.
    async fn check(&self, sub: Option<&str>, aud: &str, field: &str) -> Option<String> {
        let header =
            sub.map(|s| format!("Bearer {}", Token::portal(s).audience(aud).sign(&self.w)));
        let auth = Arc::new(AuthContext::from_authorization(header.as_deref()));
        let response = self
            .schema
            .execute(Request::new(format!("{{ {field} }}")).data(auth))
            .await;
        let body: Value = serde_json::to_value(&response).unwrap();
        match response.errors.first() {
            None => {
                assert_eq!(
                    body["data"].as_object().unwrap().values().next(),
                    Some(&Value::Bool(true))
                );
                None
            }
            Some(_) => Some(
                body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
        }
    }
}

const PORTAL: &str = "dezky-portal";
const OPERATOR: &str = "dezky-operator";

#[tokio::test]
async fn authenticated_and_operator() {
    let h = Harness::new(World::new().operator("root")).await;
    assert_eq!(
        h.check(None, PORTAL, "authenticated").await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(h.check(Some("anyone"), PORTAL, "authenticated").await, None);
    assert_eq!(h.check(Some("root"), OPERATOR, "operator").await, None);
    assert_eq!(
        h.check(Some("root"), PORTAL, "operator").await.as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        h.check(Some("anyone"), OPERATOR, "operator")
            .await
            .as_deref(),
        Some("FORBIDDEN")
    );
}

#[tokio::test]
async fn tenant_member_and_tenant_admin() {
    let h = Harness::new(
        World::new()
            .tenant("acme")
            .tenant("other")
            .member("admin", "acme", Role::Admin)
            .member("member", "acme", Role::Member)
            .operator("root"),
    )
    .await;

    let m = r#"tenantMember(slug: "acme")"#;
    let a = r#"tenantAdmin(slug: "acme")"#;
    assert_eq!(h.check(Some("member"), PORTAL, m).await, None);
    assert_eq!(h.check(Some("admin"), PORTAL, a).await, None);
    assert_eq!(
        h.check(Some("root"), OPERATOR, a).await,
        None,
        "operators administer every tenant"
    );
    assert_eq!(
        h.check(Some("member"), PORTAL, a).await.as_deref(),
        Some("FORBIDDEN"),
        "members see but do not administer"
    );
    assert_eq!(
        h.check(Some("stranger"), PORTAL, m).await.as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(
        h.check(Some("stranger"), PORTAL, a).await.as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(
        h.check(Some("member"), PORTAL, r#"tenantMember(slug: "other")"#)
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(
        h.check(None, PORTAL, m).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn partner_staff_and_partner_owns_tenant() {
    let h = Harness::new(
        World::new()
            .partner("reseller-one")
            .partner("reseller-two")
            .tenant(Tenant::of("sold-tenant", "reseller-one"))
            .tenant("direct-tenant")
            .staff("staff", "reseller-one", Level::Member)
            .member("customer", "sold-tenant", Role::Owner)
            .member("customer", "direct-tenant", Role::Owner),
    )
    .await;

    assert_eq!(
        h.check(
            Some("staff"),
            PORTAL,
            r#"partnerStaff(slug: "reseller-one")"#
        )
        .await,
        None
    );
    assert_eq!(
        h.check(
            Some("staff"),
            PORTAL,
            r#"partnerStaff(slug: "reseller-two")"#
        )
        .await
        .as_deref(),
        Some("NOT_FOUND")
    );
    // A member of one of the partner's tenants sees who the partner is, not its business.
    assert_eq!(
        h.check(
            Some("customer"),
            PORTAL,
            r#"partnerStaff(slug: "reseller-one")"#
        )
        .await
        .as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        h.check(
            Some("customer"),
            PORTAL,
            r#"partnerStaff(slug: "reseller-two")"#
        )
        .await
        .as_deref(),
        Some("NOT_FOUND")
    );

    let owns = |slug: &str| format!(r#"partnerOwnsTenant(slug: "{slug}")"#);
    assert_eq!(
        h.check(Some("staff"), PORTAL, &owns("sold-tenant")).await,
        None
    );
    assert_eq!(
        h.check(Some("staff"), PORTAL, &owns("direct-tenant"))
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );
    // The tenant's own owner can see it but is not its partner.
    assert_eq!(
        h.check(Some("customer"), PORTAL, &owns("sold-tenant"))
            .await
            .as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        h.check(Some("staff"), PORTAL, &owns("no-such-tenant"))
            .await
            .as_deref(),
        Some("NOT_FOUND")
    );
}
