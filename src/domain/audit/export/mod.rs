//! Audit log exports: `exportAuditEvents` records who asked, their audit scope at that moment
//! and the filter, and queues a job ([`JOB_KIND`]) that writes the matching events as CSV
//! ([`sheet`]) into `audit_export_chunks`, reading the log in keyset pages through the very
//! statement `auditEvents` uses ([`super::query::list`]), so scope and filters cannot drift.
//!
//! The chunks stay in the database (any replica can serve them) until [`TTL`] after the
//! request; the retention job deletes expired exports. Only the requester may read an export,
//! and only while their scope still covers the one it was written with ([`find_for`]).

pub mod sheet;
pub mod write;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::AuditEntry;
use super::change::{Caller, Need};
use super::query::{AuditFilter, AuditScope};
use crate::auth::Viewer;
use crate::db::schema::{audit_export_chunks, audit_exports};
use crate::domain::ids::UserId;
use crate::domain::jobs::{self as queue, NewJob};
use crate::error::{AppError, AppResult};

/// The job kind that writes an export.
pub const JOB_KIND: &str = "audit_export";

/// How long an export can be read after it was requested.
pub const TTL: Duration = Duration::from_secs(24 * 3600);

/// The most rows one export holds; beyond it the export is marked `truncated`.
pub const MAX_ROWS: i64 = 1_000_000;

crate::text_enum! {
    /// Where an export stands.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "AuditExportStatus")]
    pub enum ExportStatus {
        /// Waiting for a worker.
        Queued = "queued",
        /// Being written.
        Running = "running",
        /// Written; it can be downloaded.
        Ready = "ready",
        /// Could not be written (see `error`).
        Failed = "failed",
    }
}

/// An export as the graph shows it.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_exports)]
pub struct ExportRow {
    /// Primary key.
    pub id: Uuid,
    /// Who asked (the only one who may read it).
    pub requested_by: UserId,
    /// Their audit scope when they asked.
    pub scope: serde_json::Value,
    /// The filter they gave.
    pub filter: serde_json::Value,
    /// Where it stands.
    pub status: ExportStatus,
    /// Rows written, once ready.
    pub row_count: Option<i64>,
    /// Bytes of CSV written, once ready.
    pub byte_count: Option<i64>,
    /// Whether more than [`MAX_ROWS`] events matched.
    pub truncated: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Written or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Unreadable after this.
    pub expires_at: DateTime<Utc>,
}

impl ExportRow {
    /// The scope the export was written with.
    pub fn audit_scope(&self) -> AppResult<AuditScope> {
        serde_json::from_value(self.scope.clone())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored export scope: {e}")))
    }

    /// The filter the export was written with.
    pub fn audit_filter(&self) -> AppResult<AuditFilter> {
        serde_json::from_value(self.filter.clone())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored export filter: {e}")))
    }
}

/// Whether `current` lets its holder read everything `stored` allowed: operators read
/// anything; otherwise every tenant and partner of `stored` must still be in `current`, so a
/// revoked role takes the export away at once.
pub fn covers(current: &AuditScope, stored: &AuditScope) -> bool {
    match (current, stored) {
        (AuditScope::All, _) => true,
        (AuditScope::Limited { .. }, AuditScope::All) => false,
        (
            AuditScope::Limited {
                admin_tenants,
                staff_partners,
            },
            AuditScope::Limited {
                admin_tenants: stored_tenants,
                staff_partners: stored_partners,
            },
        ) => {
            stored_tenants.iter().all(|t| admin_tenants.contains(t))
                && stored_partners.iter().all(|p| staff_partners.contains(p))
        }
    }
}

/// Any signed-in caller: what they may export is their own audit scope.
struct SignedIn;

impl Need for SignedIn {
    type Target = ();

    async fn resolve(
        self,
        _conn: &mut AsyncPgConnection,
        _viewer: &Viewer,
        _audit: &mut AuditEntry,
    ) -> AppResult<()> {
        Ok(())
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_exports)]
struct NewExport {
    requested_by: UserId,
    scope: serde_json::Value,
    filter: serde_json::Value,
    expires_at: DateTime<Utc>,
}

/// `exportAuditEvents`: validates `filter` (errors name `input.filter.<name>`), records the
/// export with the caller's scope and queues its job, audited as `audit.export`.
pub async fn request(caller: &Caller, filter: AuditFilter) -> AppResult<ExportRow> {
    caller
        .change("audit.export", "audit_export")
        .run(SignedIn, async move |tx, ()| {
            let filter = filter.validate("input.filter")?;
            let scope = AuditScope::of(tx.viewer);
            let filter_json = serde_json::to_value(&filter)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("export filter: {e}")))?;
            let row: ExportRow = diesel::insert_into(audit_exports::table)
                .values(NewExport {
                    requested_by: tx.viewer.user_id,
                    scope: serde_json::to_value(&scope)
                        .map_err(|e| AppError::Internal(anyhow::anyhow!("export scope: {e}")))?,
                    filter: filter_json.clone(),
                    expires_at: Utc::now() + chrono::Duration::from_std(TTL).unwrap_or_default(),
                })
                .returning(ExportRow::as_returning())
                .get_result(tx.conn)
                .await?;
            queue::enqueue(
                tx.conn,
                &[NewJob {
                    kind: JOB_KIND,
                    payload: serde_json::json!({ "export": row.id }),
                    dedupe_key: Some(format!("{JOB_KIND}:{}", row.id)),
                    max_attempts: 3,
                }],
            )
            .await?;
            tx.audit.target_id = Some(row.id.to_string());
            tx.audit.details = serde_json::json!({ "filter": filter_json });
            Ok(row)
        })
        .await
}

/// The export `id` if `viewer` asked for it, it has not expired and the viewer's scope still
/// covers the one it was written with; `None` otherwise (one answer for all three, so an
/// export's existence does not leak).
pub async fn find_for(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<ExportRow>> {
    let row: Option<ExportRow> = audit_exports::table
        .filter(audit_exports::id.eq(id))
        .filter(audit_exports::requested_by.eq(viewer.user_id))
        .filter(audit_exports::expires_at.gt(diesel::dsl::now))
        .select(ExportRow::as_select())
        .first(conn)
        .await
        .optional()?;
    match row {
        Some(row) if covers(&AuditScope::of(viewer), &row.audit_scope()?) => Ok(Some(row)),
        _ => Ok(None),
    }
}

/// Chunk `seq` of export `id` (the CSV in order), `None` past the last one.
pub async fn chunk(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    seq: i32,
) -> QueryResult<Option<Vec<u8>>> {
    audit_export_chunks::table
        .filter(audit_export_chunks::export_id.eq(id))
        .filter(audit_export_chunks::seq.eq(seq))
        .select(audit_export_chunks::data)
        .first(conn)
        .await
        .optional()
}

/// The path the CSV of export `id` is served at.
pub fn download_path(id: Uuid) -> String {
    format!("/exports/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{PartnerId, TenantId};

    #[test]
    fn a_scope_covers_only_what_it_still_holds() {
        let t1 = TenantId(Uuid::from_u128(1));
        let t2 = TenantId(Uuid::from_u128(2));
        let p1 = PartnerId(Uuid::from_u128(3));
        let limited = |t: Vec<TenantId>, p: Vec<PartnerId>| AuditScope::Limited {
            admin_tenants: t,
            staff_partners: p,
        };
        assert!(covers(&AuditScope::All, &AuditScope::All));
        assert!(covers(&AuditScope::All, &limited(vec![t1], vec![])));
        assert!(!covers(&limited(vec![t1, t2], vec![p1]), &AuditScope::All));
        assert!(covers(
            &limited(vec![t1, t2], vec![p1]),
            &limited(vec![t2], vec![p1])
        ));
        assert!(!covers(
            &limited(vec![t1], vec![p1]),
            &limited(vec![t2], vec![])
        ));
        assert!(!covers(
            &limited(vec![t1], vec![]),
            &limited(vec![t1], vec![p1])
        ));
        assert!(covers(&limited(vec![], vec![]), &limited(vec![], vec![])));
    }
}
