//! `auditEvents`.

use async_graphql::{Context, Object};

use crate::auth::ContextAuth;
use crate::db::DbPool;
use crate::domain::audit::query::{
    self as audit_query, AuditFilter, AuditScope, EventKey, PageWindow, Towards,
};
use crate::error::ApiResult;
use crate::graphql::audit::types::{AuditEvent, AuditEventConnection, AuditEventFilter};
use crate::graphql::pagination::{Direction, PageLimits, PageRequest};

/// Audit log queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first. Operators see every event; tenant admins (active owners
    /// and admins) their tenants' events; partner staff the events of their partners and of
    /// the tenants those partners own; anyone else an empty list. `totalCount` is computed
    /// only when selected.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the log.")] filter: Option<AuditEventFilter>,
        #[graphql(
            desc = "Page size going forward, towards older events (default 20, at most 100)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size going backward, towards newer events (at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> ApiResult<AuditEventConnection> {
        let limits = *ctx.data_unchecked::<PageLimits>();
        let page = PageRequest::<EventKey>::parse(first, after, last, before, limits)?;
        let filter = AuditFilter::from(filter.unwrap_or_default()).validate("filter")?;
        let scope = AuditScope::of(&*ctx.viewer().await?);
        let wanted = ctx.look_ahead();
        let window = ["edges", "nodes", "pageInfo"]
            .iter()
            .any(|f| wanted.field(f).exists())
            .then(|| window_of(&page));
        let with_total = wanted.field("totalCount").exists();
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let (rows, total) =
            audit_query::list(&mut conn, &scope, &filter, window.as_ref(), with_total).await?;
        let rows = rows.into_iter().map(AuditEvent).collect();
        Ok(page
            .connection(rows, total.unwrap_or_default(), |e| e.0.key())
            .into())
    }
}

/// The rows a page request needs: `limit + 1`, to learn whether more exist.
fn window_of(page: &PageRequest<EventKey>) -> PageWindow {
    PageWindow {
        towards: match page.direction {
            Direction::Forward => Towards::Older,
            Direction::Backward => Towards::Newer,
        },
        cursor: page.cursor,
        rows: page.limit + 1,
    }
}
