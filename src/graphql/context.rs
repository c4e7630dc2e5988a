//! What resolvers read from the request context: the caller of a mutation (for the audited
//! runner), the access checks of fields (thin wrappers over the access policy), and the
//! schema-wide data.

use std::sync::Arc;

use async_graphql::Context;

use crate::auth::{ContextAuth, PartnerAccess, TenantAccess, TenantRef, Viewer};
use crate::db::DbPool;
use crate::domain::audit::Actor;
use crate::domain::audit::change::Caller;
use crate::domain::ids::PartnerId;
use crate::error::{ApiResult, AppError, ErrorCode};
use crate::graphql::loaders::Loaders;
use crate::graphql::viewer::ClientIp;
use crate::metrics::Metrics;
use crate::request_id::RequestId;

/// The caller of a mutation. A caller without valid credentials becomes `viewer: None` for
/// the runner to refuse; other failures (the database) end the request here.
pub async fn caller(ctx: &Context<'_>) -> ApiResult<Caller> {
    let viewer = match ctx.viewer().await {
        Ok(viewer) => Some(viewer),
        Err(e) if e.0.code() == ErrorCode::Unauthenticated => None,
        Err(e) => return Err(e),
    };
    let actor = Actor::of(
        viewer.as_deref(),
        ctx.data_opt::<RequestId>().map(ToString::to_string),
        ctx.data_opt::<ClientIp>().map(|ip| ip.0.clone()),
    );
    Ok(Caller {
        pool: ctx.data_unchecked::<DbPool>().clone(),
        actor,
        viewer,
        metrics: ctx.data_opt::<Arc<Metrics>>().cloned(),
    })
}

/// The audit actor of a request by `viewer` (for rows written outside the audited runner).
pub fn actor(ctx: &Context<'_>, viewer: &Viewer) -> Actor {
    Actor::of(
        Some(viewer),
        ctx.data_opt::<RequestId>().map(ToString::to_string),
        ctx.data_opt::<ClientIp>().map(|ip| ip.0.clone()),
    )
}

/// The request's loaders.
pub fn loaders<'c>(ctx: &Context<'c>) -> &'c Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// The caller if they are an operator; `FORBIDDEN` otherwise.
pub async fn operator(ctx: &Context<'_>) -> ApiResult<Arc<Viewer>> {
    let viewer = ctx.viewer().await?;
    if viewer.is_operator() {
        Ok(viewer)
    } else {
        Err(AppError::Forbidden("operator access required".into()).into())
    }
}

/// `Ok` if the caller has at least `level` on `tenant`; `FORBIDDEN` with `message` otherwise
/// (the tenant itself is visible: the field's parent was resolved through the policy).
pub async fn require_tenant(
    ctx: &Context<'_>,
    tenant: TenantRef,
    level: TenantAccess,
    message: &str,
) -> ApiResult<()> {
    if ctx.viewer().await?.tenant_access(tenant) >= level {
        Ok(())
    } else {
        Err(AppError::Forbidden(message.to_owned()).into())
    }
}

/// `Ok` if the caller has at least `level` on `partner`; `FORBIDDEN` with `message` otherwise.
pub async fn require_partner(
    ctx: &Context<'_>,
    partner: PartnerId,
    level: PartnerAccess,
    message: &str,
) -> ApiResult<()> {
    if ctx.viewer().await?.partner_access(partner) >= level {
        Ok(())
    } else {
        Err(AppError::Forbidden(message.to_owned()).into())
    }
}

/// A guard over the policy: operator powers.
pub struct Operator;

impl async_graphql::Guard for Operator {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        operator(ctx).await.map(|_| ()).map_err(Into::into)
    }
}
