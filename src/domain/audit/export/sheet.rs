//! The CSV of an export: RFC 4180 quoting by the `csv` crate, and every cell that a
//! spreadsheet would read as a formula neutralised (OWASP "CSV injection": a cell starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`).

use std::borrow::Cow;

use crate::domain::audit::query::AuditEventView;

/// The header row.
pub const HEADER: [&str; 14] = [
    "id",
    "at",
    "action",
    "outcome",
    "actor_email",
    "subject_email",
    "impersonation_session_id",
    "target_type",
    "target_id",
    "tenant",
    "partner",
    "request_id",
    "ip",
    "details",
];

/// `cell`, with a leading `'` when a spreadsheet would otherwise evaluate it.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV writer into memory; the caller takes the bytes out as they grow.
pub struct Sheet {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for Sheet {
    fn default() -> Self {
        Self::new()
    }
}

impl Sheet {
    /// An empty sheet whose first row is [`HEADER`].
    pub fn new() -> Self {
        let mut writer = Self::writer();
        // Writing into a Vec cannot fail.
        let _ = writer.write_record(HEADER);
        Self { writer }
    }

    fn writer() -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::with_capacity(1 << 20))
    }

    /// Appends one event.
    pub fn push(&mut self, e: &AuditEventView) -> csv::Result<()> {
        let id = e.id.to_string();
        let at = e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let session = e.impersonation_session_id.map(|s| s.to_string());
        let details = e.details.to_string();
        fn opt(v: &Option<String>) -> Cow<'_, str> {
            v.as_deref().map(neutralise).unwrap_or_default()
        }
        self.writer.write_record(
            [
                neutralise(&id),
                neutralise(&at),
                neutralise(&e.action),
                neutralise(e.outcome.as_str()),
                opt(&e.actor_email),
                opt(&e.subject_email),
                opt(&session),
                neutralise(&e.target_type),
                opt(&e.target_id),
                opt(&e.tenant_slug),
                opt(&e.partner_slug),
                opt(&e.request_id),
                opt(&e.ip),
                neutralise(&details),
            ]
            .iter()
            .map(|c| c.as_bytes()),
        )
    }

    /// The bytes written so far (then empty again).
    pub fn take(&mut self) -> Vec<u8> {
        let full = std::mem::replace(&mut self.writer, Self::writer());
        full.into_inner().unwrap_or_default()
    }

    /// How many bytes wait in memory.
    pub fn pending(&self) -> usize {
        self.writer.get_ref().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_nothing_else() {
        for bad in ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"), "{bad:?}");
        }
        for fine in ["", "tenant.create", "a=b", "'quoted", " =x", "é"] {
            assert_eq!(neutralise(fine), fine, "{fine:?}");
        }
    }
}
