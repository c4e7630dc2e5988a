//! Field guards: small typed units, each reading the Viewer from the context and answering
//! with a coded error. A tenant or partner the viewer may not see is `NOT_FOUND`, exactly
//! like one that does not exist, so guards never reveal existence.

use async_graphql::{Context, Guard};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain;
use crate::error::{ApiError, AppError};

/// Any verified caller.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        ctx.viewer().await?;
        Ok(())
    }
}

/// Operator powers: an operator-audience token **and** `platform_admin` in the database.
pub struct Operator;

impl Guard for Operator {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if ctx.viewer().await?.is_operator() {
            Ok(())
        } else {
            Err(ApiError::from(AppError::Forbidden("operator access required".into())).into())
        }
    }
}

/// An active member of tenant `slug` (or an operator, or staff of its partner).
pub struct TenantMember(pub String);

impl Guard for TenantMember {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx
            .data_unchecked::<DbPool>()
            .get()
            .await
            .map_err(ApiError::from)?;
        domain::tenants::visible_by_slug(&mut conn, &viewer, &self.0)
            .await
            .map_err(ApiError::from)?;
        Ok(())
    }
}

/// An active owner or admin of tenant `slug`, or an operator. Others who may see the tenant
/// get `FORBIDDEN`; those who may not see it get `NOT_FOUND`.
pub struct TenantAdmin(pub String);

impl Guard for TenantAdmin {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx
            .data_unchecked::<DbPool>()
            .get()
            .await
            .map_err(ApiError::from)?;
        let tenant = domain::tenants::visible_by_slug(&mut conn, &viewer, &self.0)
            .await
            .map_err(ApiError::from)?;
        if viewer.can_admin_tenant(tenant.id) {
            Ok(())
        } else {
            Err(ApiError::from(AppError::Forbidden("tenant admin access required".into())).into())
        }
    }
}

/// Staff of partner `slug`, or an operator; others get `NOT_FOUND`.
pub struct PartnerStaff(pub String);

impl Guard for PartnerStaff {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx
            .data_unchecked::<DbPool>()
            .get()
            .await
            .map_err(ApiError::from)?;
        domain::partners::visible_by_slug(&mut conn, &viewer, &self.0)
            .await
            .map_err(ApiError::from)?;
        Ok(())
    }
}

/// Staff of the partner that owns tenant `slug`, or an operator. A direct tenant (no
/// partner) is never partner-owned. Unrelated callers get `NOT_FOUND`.
pub struct PartnerOwnsTenant(pub String);

impl Guard for PartnerOwnsTenant {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = ctx.viewer().await?;
        let mut conn = ctx
            .data_unchecked::<DbPool>()
            .get()
            .await
            .map_err(ApiError::from)?;
        let (tenant_id, partner_id) = domain::tenants::owner_partner(&mut conn, &self.0)
            .await
            .map_err(ApiError::from)?;
        if viewer.is_operator() || partner_id.is_some_and(|p| viewer.is_partner_staff(p)) {
            Ok(())
        } else if viewer.can_see_tenant(tenant_id, partner_id) {
            Err(ApiError::from(AppError::Forbidden(
                "the tenant's partner staff only".into(),
            ))
            .into())
        } else {
            Err(ApiError::from(AppError::NotFound { what: "tenant" }).into())
        }
    }
}
