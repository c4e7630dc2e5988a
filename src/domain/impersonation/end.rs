//! Ending a session early: `endImpersonation`, by an operator or from within the session
//! itself (the portal's banner). Its tokens stop working at once, and its open WebSocket
//! subscriptions are closed with 4403.

use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::SessionRow;
use crate::auth::Viewer;
use crate::domain::audit::AuditEntry;
use crate::domain::audit::change::{Caller, Need};
use crate::error::{AppError, AppResult};
use crate::events::{self, Event};

/// Access to one session: operators, and the session itself (its own token).
struct SessionNeed(Uuid);

impl Need for SessionNeed {
    type Target = SessionRow;

    async fn resolve(
        self,
        conn: &mut AsyncPgConnection,
        viewer: &Viewer,
        audit: &mut AuditEntry,
    ) -> AppResult<SessionRow> {
        audit.target_id = Some(self.0.to_string());
        let own = viewer
            .impersonation
            .as_ref()
            .is_some_and(|i| i.session_id == self.0);
        let session = super::by_id(conn, self.0).await?;
        match session {
            Some(s) if viewer.is_operator() || own => {
                audit.tenant_id = s.tenant_id;
                Ok(s)
            }
            _ => Err(audit.deny(AppError::NotFound {
                what: "impersonation session",
            })),
        }
    }
}

/// Ends session `id`, audited as `impersonation.end`. Ending a session that already ended
/// or expired is `CONFLICT`.
pub async fn end(caller: &Caller, id: Uuid) -> AppResult<SessionRow> {
    caller
        .change("impersonation.end", "impersonation_session")
        .run(SessionNeed(id), async move |tx, session| {
            if !session.is_open() {
                return Err(AppError::Conflict(
                    "the impersonation session has already ended".into(),
                ));
            }
            diesel::sql_query(
                "UPDATE impersonation_sessions SET ended_at = now(), ended_by_user_id = $2
                  WHERE id = $1 AND ended_at IS NULL",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(
                tx.viewer
                    .impersonation
                    .as_ref()
                    .map_or(tx.viewer.user_id, |i| i.operator_id),
            )
            .execute(tx.conn)
            .await?;
            tx.audit.details =
                json!({ "user_id": session.user_id, "user_email": session.user_email });
            events::notify(tx.conn, &Event::ImpersonationEnded(id)).await?;
            super::by_id(tx.conn, id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("the session vanished")))
        })
        .await
}
