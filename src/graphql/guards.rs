//! Field guards: small typed units, each reading the Viewer from the context and answering
//! with a coded error. A tenant or partner the viewer may not see is `NOT_FOUND`, exactly
//! like one that does not exist, so guards never reveal existence.

use async_graphql::{Context, Guard};

use std::sync::Arc;

use crate::auth::{ContextAuth, Viewer};
use crate::db::{DbConn, DbPool};
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
            Err(refuse(AppError::Forbidden(
                "operator access required".into(),
            )))
        }
    }
}

/// The viewer and a pooled connection, for the guards that look a tenant or partner up.
async fn viewer_and_conn(ctx: &Context<'_>) -> Result<(Arc<Viewer>, DbConn), ApiError> {
    let viewer = ctx.viewer().await?;
    let conn = ctx.data_unchecked::<DbPool>().get().await?;
    Ok((viewer, conn))
}

fn refuse(error: AppError) -> async_graphql::Error {
    ApiError::from(error).into()
}

/// An active member of tenant `slug` (or an operator, or staff of its partner).
pub struct TenantMember(pub String);

impl Guard for TenantMember {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let (viewer, mut conn) = viewer_and_conn(ctx).await?;
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
        let (viewer, mut conn) = viewer_and_conn(ctx).await?;
        let tenant = domain::tenants::visible_by_slug(&mut conn, &viewer, &self.0)
            .await
            .map_err(ApiError::from)?;
        if viewer.can_admin_tenant(tenant.id) {
            Ok(())
        } else {
            Err(refuse(AppError::Forbidden(
                "tenant admin access required".into(),
            )))
        }
    }
}

/// Staff of partner `slug`, or an operator; others get `NOT_FOUND`.
pub struct PartnerStaff(pub String);

impl Guard for PartnerStaff {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let (viewer, mut conn) = viewer_and_conn(ctx).await?;
        domain::partners::visible_by_slug(&mut conn, &viewer, &self.0)
            .await
            .map_err(ApiError::from)?;
        Ok(())
    }
}

/// Staff of the partner that owns tenant `slug`, or an operator. A direct tenant (no
/// partner) is never partner-owned. Those who may see the tenant otherwise get `FORBIDDEN`,
/// unrelated callers `NOT_FOUND`.
pub struct PartnerOwnsTenant(pub String);

impl Guard for PartnerOwnsTenant {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let (viewer, mut conn) = viewer_and_conn(ctx).await?;
        let (tenant_id, partner_id) = domain::tenants::owner_partner(&mut conn, &self.0)
            .await
            .map_err(ApiError::from)?;
        if viewer.is_operator() || partner_id.is_some_and(|p| viewer.is_partner_staff(p)) {
            Ok(())
        } else if viewer.can_see_tenant(tenant_id, partner_id) {
            Err(refuse(AppError::Forbidden(
                "the tenant's partner staff only".into(),
            )))
        } else {
            Err(refuse(AppError::NotFound { what: "tenant" }))
        }
    }
}
