//! Writing one export: the matching events in keyset pages (newest first, the order of
//! `auditEvents`), as CSV, into `audit_export_chunks` of about [`CHUNK_BYTES`] each. Memory
//! stays bounded by one page of rows plus one chunk, whatever the number of rows; the next
//! page is read while the current one is encoded and stored.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::sheet::Sheet;
use super::{ExportRow, ExportStatus, MAX_ROWS};
use crate::db::DbPool;
use crate::db::schema::{audit_export_chunks, audit_exports};
use crate::domain::audit::query::{self, AuditEventView, PageWindow, Towards};

/// Events read per statement.
pub const PAGE_ROWS: usize = 5_000;

/// Bytes of CSV per stored chunk (a chunk is cut at a row boundary past this).
pub const CHUNK_BYTES: usize = 1 << 20;

/// What a finished write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Event rows (the header not counted).
    pub rows: i64,
    /// Bytes of CSV.
    pub bytes: i64,
    /// More than [`MAX_ROWS`] events matched.
    pub truncated: bool,
}

/// Marks export `id` running and returns it; `None` when it no longer exists (expired and
/// pruned) or was already finished.
pub async fn start(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ExportRow>> {
    diesel::update(audit_exports::table)
        .filter(audit_exports::id.eq(id))
        .filter(audit_exports::status.eq_any([ExportStatus::Queued, ExportStatus::Running]))
        .set(audit_exports::status.eq(ExportStatus::Running))
        .returning(ExportRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Writes the CSV of `export` (discarding chunks of an earlier, interrupted attempt).
pub async fn write(pool: &DbPool, export: &ExportRow) -> anyhow::Result<Written> {
    let scope = export.audit_scope()?;
    let filter = export.audit_filter()?;
    let mut reader = pool.get().await?;
    let mut writer = pool.get().await?;
    diesel::delete(audit_export_chunks::table)
        .filter(audit_export_chunks::export_id.eq(export.id))
        .execute(&mut writer)
        .await?;
    let page = async |conn: &mut AsyncPgConnection, cursor| {
        let window = PageWindow {
            towards: Towards::Older,
            cursor,
            rows: PAGE_ROWS,
        };
        query::list(conn, &scope, &filter, Some(&window), false)
            .await
            .map(|(rows, _)| rows)
    };
    let mut sheet = Sheet::new();
    let mut seq = 0i32;
    let mut written = Written {
        rows: 0,
        bytes: 0,
        truncated: false,
    };
    let mut rows: Vec<AuditEventView> = page(&mut reader, None).await?;
    while !rows.is_empty() {
        let last = rows.last().map(AuditEventView::key);
        let full = rows.len() == PAGE_ROWS;
        // Read the next page while this one is encoded and stored.
        let next = async {
            if full {
                page(&mut reader, last).await
            } else {
                Ok(Vec::new())
            }
        };
        let store = async {
            for row in &rows {
                if written.rows == MAX_ROWS {
                    written.truncated = true;
                    break;
                }
                sheet.push(row)?;
                written.rows += 1;
                if sheet.pending() >= CHUNK_BYTES {
                    written.bytes += put(&mut writer, export.id, &mut seq, sheet.take()).await?;
                }
            }
            anyhow::Ok(())
        };
        let (next, stored) = tokio::join!(next, store);
        stored?;
        if written.truncated {
            break;
        }
        rows = next?;
    }
    let rest = sheet.take();
    if !rest.is_empty() {
        written.bytes += put(&mut writer, export.id, &mut seq, rest).await?;
    }
    Ok(written)
}

/// Stores one chunk; returns its length.
async fn put(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    seq: &mut i32,
    data: Vec<u8>,
) -> anyhow::Result<i64> {
    let len = i64::try_from(data.len())?;
    diesel::insert_into(audit_export_chunks::table)
        .values((
            audit_export_chunks::export_id.eq(id),
            audit_export_chunks::seq.eq(*seq),
            audit_export_chunks::data.eq(data),
        ))
        .execute(conn)
        .await?;
    *seq += 1;
    Ok(len)
}

/// Records the end of a write: `ready` with its figures, or `failed` with `error`.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    outcome: Result<Written, String>,
) -> QueryResult<()> {
    let now = Some(chrono::Utc::now());
    match outcome {
        Ok(w) => {
            diesel::update(audit_exports::table.find(id))
                .set((
                    audit_exports::status.eq(ExportStatus::Ready),
                    audit_exports::row_count.eq(w.rows),
                    audit_exports::byte_count.eq(w.bytes),
                    audit_exports::truncated.eq(w.truncated),
                    audit_exports::error.eq(None::<String>),
                    audit_exports::finished_at.eq(now),
                ))
                .execute(conn)
                .await?
        }
        Err(error) => {
            diesel::update(audit_exports::table.find(id))
                .set((
                    audit_exports::status.eq(ExportStatus::Failed),
                    audit_exports::error.eq(error),
                    audit_exports::finished_at.eq(now),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}
