//! `exportAuditEvents` and `auditExport`: the audit log as a CSV file, written by a job and
//! downloaded from `GET /exports/<id>` (see `crate::http::exports`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::{ContextAuth, Viewer};
use crate::db::DbPool;
use crate::domain::audit::export::{self, ExportRow, ExportStatus};
use crate::domain::audit::query::AuditFilter;
use crate::error::{ApiResult, AppError};
use crate::graphql::audit::types::AuditEventFilter;
use crate::graphql::context::caller;
use crate::graphql::ids::{GlobalId, NodeKey, NodeType};
use crate::graphql::node::NodeSource;

/// An export of the audit log to CSV (see the `#[Object]` block).
pub struct AuditExport(pub ExportRow);

/// An export of the audit log to CSV: the events the requester could read with
/// `auditEvents` and the same filter, newest first, one row each (RFC 4180; cells a
/// spreadsheet would evaluate as a formula start with `'`). Only the requester can read it,
/// until `expiresAt`.
#[Object]
impl AuditExport {
    /// Global id.
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeType::AuditExport, self.0.id).to_id()
    }

    /// Where it stands.
    async fn status(&self) -> ExportStatus {
        self.0.status
    }

    /// Event rows in the file (the header row not counted), once `READY`.
    async fn row_count(&self) -> Option<i64> {
        self.0.row_count
    }

    /// Size of the file in bytes, once `READY`.
    async fn byte_count(&self) -> Option<i64> {
        self.0.byte_count
    }

    /// Whether more events matched than one export holds (1,000,000): the file then has the
    /// newest ones; narrow the filter (`before`) for the rest.
    async fn truncated(&self) -> bool {
        self.0.truncated
    }

    /// Why it failed, when `FAILED`.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// When it was requested.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it was written (or failed).
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    /// After this it can no longer be read (24 hours after the request).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// Where to download the CSV once `READY`: a path on this server, fetched with the same
    /// `Authorization` header as the request; `null` before.
    async fn download_url(&self) -> Option<String> {
        (self.0.status == ExportStatus::Ready).then(|| export::download_path(self.0.id))
    }
}

/// Visible to its requester only, until it expires.
impl NodeSource for AuditExport {
    async fn fetch(ctx: &Context<'_>, viewer: &Viewer, key: NodeKey) -> ApiResult<Option<Self>> {
        let NodeKey::Uuid(id) = key else {
            return Ok(None);
        };
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        Ok(export::find_for(&mut conn, viewer, id).await?.map(Self))
    }
}

/// Input of `exportAuditEvents`.
#[derive(InputObject, Default)]
pub struct ExportAuditEventsInput {
    /// The events to export: the same filter as `auditEvents` (none: every event the caller
    /// can read).
    pub filter: Option<AuditEventFilter>,
}

/// The export just requested.
#[derive(SimpleObject)]
pub struct ExportAuditEventsPayload {
    /// The export, `QUEUED`; poll `auditExport` (or `node`) until it is `READY`.
    pub export: AuditExport,
}

/// Audit export queries.
#[derive(Default)]
pub struct AuditExportQuery;

#[Object]
impl AuditExportQuery {
    /// An export the caller requested, while it has not expired; `NOT_FOUND` otherwise
    /// (another caller's export answers exactly like one that does not exist).
    async fn audit_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The export's id.")] id: ID,
    ) -> ApiResult<AuditExport> {
        let global = GlobalId::decode(&id, "id")?;
        if global.ty != NodeType::AuditExport {
            return Err(AppError::bad_input("id", "not an AuditExport id").into());
        }
        let viewer = ctx.viewer().await?;
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        export::find_for(&mut conn, &viewer, global.uuid())
            .await?
            .map(AuditExport)
            .ok_or_else(|| {
                AppError::NotFound {
                    what: "audit export",
                }
                .into()
            })
    }
}

/// Audit export mutations.
#[derive(Default)]
pub struct AuditExportMutation;

#[Object]
impl AuditExportMutation {
    /// Starts an export to CSV of the audit events the caller can read (their `auditEvents`
    /// scope) that match the filter. Any signed-in caller; audited as `audit.export`.
    async fn export_audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events.")] input: ExportAuditEventsInput,
    ) -> ApiResult<ExportAuditEventsPayload> {
        let filter = AuditFilter::from(input.filter.unwrap_or_default());
        let row = export::request(&caller(ctx).await?, filter).await?;
        Ok(ExportAuditEventsPayload {
            export: AuditExport(row),
        })
    }
}
