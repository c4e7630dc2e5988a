//! `startImpersonation` and `endImpersonation`: thin wrappers over
//! `domain::impersonation`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::impersonation::ImpersonationKeys;
use crate::config::Config;
use crate::domain::ids::UserId;
use crate::domain::impersonation::end;
use crate::domain::impersonation::start::{self, Fields, Settings, StartRequest, Subject};
use crate::error::{ApiResult, AppError};
use crate::graphql::context::caller;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::impersonation::types::ImpersonationSession;

/// Input of `startImpersonation`: a user (optionally with the workspace it is about), or a
/// workspace (its first active owner).
#[derive(InputObject)]
pub struct StartImpersonationInput {
    /// The user to act as (a `User` id). Give this or `tenant`.
    pub user: Option<ID>,
    /// A tenant slug: alone, act as its first active owner (the "workspace" form); with
    /// `user`, the workspace the session is about (the user must be an active member).
    pub tenant: Option<String>,
    /// Why (required, at most 500 characters); kept and shown to the tenant's admins.
    pub reason: String,
    /// Lifetime in seconds (default and maximum: `IMPERSONATION_MAX_TTL`, 30 minutes unless
    /// configured).
    pub expires_in: Option<i32>,
}

/// A started session and the token to act with.
#[derive(SimpleObject)]
pub struct StartImpersonationPayload {
    /// The session.
    pub session: ImpersonationSession,
    /// The impersonation token: a bearer token for the portal, signed by this server, with
    /// `act: { sub: <operator> }`. Good until `expiresAt` or until the session ends.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the token and the session expire.
    pub expires_at: DateTime<Utc>,
}

/// Input of `endImpersonation`.
#[derive(InputObject)]
pub struct EndImpersonationInput {
    /// The session (an `ImpersonationSession` id).
    pub session: ID,
}

/// The session after `endImpersonation`.
#[derive(SimpleObject)]
pub struct EndImpersonationPayload {
    /// The session, now ended.
    pub session: ImpersonationSession,
}

const FIELDS: Fields = Fields {
    subject: "input.user",
    tenant: "input.tenant",
    reason: "input.reason",
    ttl: "input.expiresIn",
};

/// Impersonation mutations.
#[derive(Default)]
pub struct ImpersonationMutation;

#[Object]
impl ImpersonationMutation {
    /// Starts acting as a user (operators only: an operator token and `platformAdmin`). The
    /// same as `POST /oauth/token` (RFC 8693 token exchange), for the operator console.
    /// Audited as `impersonation.start` with the reason; the tenant's admins see the session.
    #[graphql(visible = "crate::graphql::audience::operator_only")]
    async fn start_impersonation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whom, why and for how long.")] input: StartImpersonationInput,
    ) -> ApiResult<StartImpersonationPayload> {
        let subject = match (&input.user, &input.tenant) {
            (Some(id), _) => {
                let global = GlobalId::decode(id, "input.user")?;
                if global.ty != NodeType::User {
                    return Err(AppError::bad_input("input.user", "not a User id").into());
                }
                Subject::User(UserId(global.uuid()))
            }
            (None, Some(slug)) => Subject::Workspace(slug.clone()),
            (None, None) => {
                return Err(AppError::bad_input("input.user", "give a user or a tenant").into());
            }
        };
        let tenant = input.user.is_some().then(|| input.tenant.clone()).flatten();
        let config = ctx.data_unchecked::<Arc<Config>>();
        let settings = Settings {
            max_ttl: config.auth.impersonation_max_ttl,
            portal_audience: config.auth.portal_audience.clone(),
            signer: ctx
                .data_unchecked::<Arc<ImpersonationKeys>>()
                .signer()
                .await?,
        };
        let request = StartRequest {
            subject,
            tenant,
            reason: input.reason,
            ttl_secs: input.expires_in.map(i64::from),
        };
        let started = start::start(&caller(ctx).await?, &settings, request, FIELDS).await?;
        Ok(StartImpersonationPayload {
            expires_at: started.session.expires_at,
            session: ImpersonationSession(started.session),
            token: started.token,
            token_type: "Bearer".into(),
        })
    }

    /// Ends a session at once: its tokens stop working and its open subscriptions are
    /// closed (4403). Operators, and the session itself (the portal's banner). Audited as
    /// `impersonation.end`.
    async fn end_impersonation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] input: EndImpersonationInput,
    ) -> ApiResult<EndImpersonationPayload> {
        let global = GlobalId::decode(&input.session, "input.session")?;
        if global.ty != NodeType::ImpersonationSession {
            return Err(
                AppError::bad_input("input.session", "not an ImpersonationSession id").into(),
            );
        }
        let row = end::end(&caller(ctx).await?, global.uuid()).await?;
        Ok(EndImpersonationPayload {
            session: ImpersonationSession(row),
        })
    }
}
