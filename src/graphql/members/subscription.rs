//! `memberProgress`: a member's operation events, replayed then live — the design of
//! `provisioningProgress`, through the process's [`MemberFeed`] (see
//! [`crate::events::progress`]) — and `seatWarnings`.

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use super::mutation::member_id;
use super::seat_warnings::SeatWarning;
use super::types::MemberEvent;
use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain::members;
use crate::error::{ApiError, AppError};
use crate::events::feed::MemberFeed;
use crate::events::progress::Progress;
use crate::graphql::tenants::followed::cursor_not_negative;

/// Member subscriptions.
#[derive(Default)]
pub struct MemberSubscription;

#[Subscription]
impl MemberSubscription {
    /// A member's operation events (create, suspend, …): first every stored event after
    /// `afterSeq`, then live ones, in `seq` order with no gap and no duplicate, whichever
    /// server ran the work. Completes after the event that ends an operation (`terminal`),
    /// or at once when nothing is in progress and everything after `afterSeq` was sent.
    /// Visible like the member.
    async fn member_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "memberId", desc = "The member's global id.")] member_id_arg: ID,
        #[graphql(
            desc = "Send only events after this sequence number (default 0: from the start).",
            default = 0
        )]
        after_seq: i32,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MemberEvent>> + use<>> {
        // Boxed: inline, the setup's state would size the stream for its whole life.
        Box::pin(progress(ctx, member_id_arg, after_seq)).await
    }

    /// A tenant's seat warnings: each time its seat usage crosses 80 % or 100 % (or falls
    /// back below 80 %), announced once per crossing. First every stored one after
    /// `afterId`, then live ones, in order, with no gap and no duplicate, whichever server
    /// made the change. Does not complete. Visible like `tenant(slug)`.
    async fn seat_warnings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's slug.")] tenant_slug: String,
        #[graphql(
            desc = "Send only warnings after this id (default 0: from the start).",
            default = 0
        )]
        after_id: i64,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SeatWarning>> + use<>> {
        // Boxed: inline, the setup's state would size the stream for its whole life.
        Box::pin(super::seat_warnings::stream(ctx, &tenant_slug, after_id)).await
    }
}

/// What `member_progress` resolves to: checks, the first read, and the stream.
async fn progress(
    ctx: &Context<'_>,
    member_id_arg: ID,
    after_seq: i32,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MemberEvent>> + use<>> {
    cursor_not_negative("afterSeq", after_seq.into())?;
    let member = member_id(&member_id_arg, "memberId").map_err(ApiError::from)?;
    let viewer = ctx.viewer().await?;
    let pool = ctx.data_unchecked::<DbPool>().clone();
    {
        let mut conn = pool.get().await.map_err(ApiError::from)?;
        let seen = members::visible(&mut conn, &viewer.scope(), &[member])
            .await
            .map_err(|e| ApiError::from(AppError::from(e)))?;
        if seen.is_empty() {
            return Err(ApiError::from(AppError::NotFound { what: "member" }).into());
        }
    }
    let feed = ctx.data_unchecked::<MemberFeed>();
    let events = Progress::stream(pool, feed, member, after_seq)
        .await
        .map_err(ApiError::from)?;
    Ok(events.map(|row| row.map(MemberEvent).map_err(|e| ApiError::from(e).into())))
}
