//! What every mutation resolver gathers before calling its domain function: the audit
//! actor (user, request id, client IP) and the caller, where an unauthenticated caller is
//! passed on so the refusal is audited too.

use std::sync::Arc;

use async_graphql::Context;

use crate::auth::{ContextAuth, Viewer};
use crate::domain::audit::Actor;
use crate::error::{ApiResult, AppError, AppResult, ErrorCode};
use crate::graphql::viewer::ClientIp;
use crate::request_id::RequestId;

/// The actor and the caller of a mutation. A caller without valid credentials becomes
/// `Err(Unauthenticated)` for the domain function to audit; other failures (the database)
/// end the request here.
pub async fn mutation_context(ctx: &Context<'_>) -> ApiResult<(Actor, AppResult<Arc<Viewer>>)> {
    let viewer = match ctx.viewer().await {
        Ok(viewer) => Ok(viewer),
        Err(e) if e.0.code() == ErrorCode::Unauthenticated => Err(AppError::Unauthenticated),
        Err(e) => return Err(e),
    };
    let actor = Actor {
        user_id: viewer.as_ref().ok().map(|v| v.user_id),
        email: viewer.as_ref().ok().map(|v| v.email.clone()),
        request_id: ctx.data_opt::<RequestId>().map(ToString::to_string),
        ip: ctx.data_opt::<ClientIp>().map(|ip| ip.0.clone()),
    };
    Ok((actor, viewer))
}
