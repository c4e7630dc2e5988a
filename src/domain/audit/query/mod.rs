//! Reading the audit log (`auditEvents`): the viewer's scope and the filters, applied in SQL;
//! newest first, keyset-paginated on `(at DESC, id DESC)` so a page boundary inside a run of
//! equal timestamps is exact.
//!
//! The types live here; the statement is assembled in [`sql`].

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::auth::{Scope, Viewer};
use crate::domain::audit::Outcome;
use crate::domain::ids::{PartnerId, TenantId};
use crate::error::{AppError, AppResult};

mod sql;

use sql::{COUNT_SELECT, PAGE_SELECT, Sql};

/// The longest `search` term accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// An event's position in the list: `(at, id)`. Newest first means descending on both.
pub type EventKey = (DateTime<Utc>, i64);

/// Whose events a viewer may read (stored with an export, so serialisable).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuditScope {
    /// Every event (operators).
    All,
    /// Events of `admin_tenants`, of `staff_partners` themselves, and of the tenants those
    /// partners currently own. Both empty: nothing.
    Limited {
        /// Tenants the viewer administers (active owner or admin membership).
        admin_tenants: Vec<TenantId>,
        /// Partners the viewer works for (any access level).
        staff_partners: Vec<PartnerId>,
    },
}

impl AuditScope {
    /// The scope of `viewer`, from the access policy ([`Viewer::scope`], the SQL form of
    /// [`Viewer::sees_audit_event`]): operators see all; tenant admins their tenants; partner
    /// staff their partners and those partners' tenants; everyone else nothing.
    pub fn of(viewer: &Viewer) -> Self {
        match viewer.scope() {
            Scope::All => Self::All,
            Scope::Limited(sets) => Self::Limited {
                admin_tenants: sets.admin_of,
                staff_partners: sets.staff_of,
            },
        }
    }
}

/// What to narrow the list to; every field set must match (AND). Stored with an export, so
/// serialisable.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditFilter {
    /// Events of the tenant with this slug.
    pub tenant: Option<String>,
    /// Events of the partner with this slug, or of a tenant it owns.
    pub partner: Option<String>,
    /// Exactly this action, e.g. `tenant.create`.
    pub action: Option<String>,
    /// This outcome.
    pub outcome: Option<Outcome>,
    /// Events whose actor had this email (case-insensitive).
    pub actor_email: Option<String>,
    /// Case-insensitive substring of the action, the target id or the actor's email.
    pub search: Option<String>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant.
    pub before: Option<DateTime<Utc>>,
    /// Only these event ids (`node`/`nodes` lookups).
    pub ids: Option<Vec<i64>>,
}

impl AuditFilter {
    /// Checks the filter the client sent as argument `field`; errors name `<field>.<name>`.
    /// Trims `search` and `actor_email`; an empty search is no search.
    pub fn validate(mut self, field: &str) -> AppResult<Self> {
        if let (Some(since), Some(before)) = (self.since, self.before)
            && since > before
        {
            return Err(AppError::bad_input(
                format!("{field}.since"),
                "`since` must not be after `before`",
            ));
        }
        if let Some(search) = self.search.take() {
            let term = search.trim();
            if term.chars().count() > MAX_SEARCH_CHARS {
                return Err(AppError::bad_input(
                    format!("{field}.search"),
                    format!("`search` must be at most {MAX_SEARCH_CHARS} characters"),
                ));
            }
            if term.chars().any(char::is_control) {
                return Err(AppError::bad_input(
                    format!("{field}.search"),
                    "`search` must not contain control characters",
                ));
            }
            self.search = (!term.is_empty()).then(|| term.to_owned());
        }
        self.actor_email = self.actor_email.map(|e| e.trim().to_owned());
        Ok(self)
    }
}

/// Which way to read from the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Towards {
    /// Older events (forward in the newest-first list); rows come newest first.
    Older,
    /// Newer events (backward); rows come oldest first, nearest to the cursor first.
    Newer,
}

/// The slice of the list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageWindow {
    /// Direction from the cursor.
    pub towards: Towards,
    /// Start after this event (exclusive); `None` starts at the newest (or oldest) end.
    pub cursor: Option<EventKey>,
    /// How many rows to fetch.
    pub rows: usize,
}

/// One event as the graph shows it: the row plus the slugs of its tenant and partner.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct AuditEventView {
    /// Identity (the tie-breaker of the order).
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// When it happened.
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    /// Dotted action name.
    #[diesel(sql_type = Text)]
    pub action: String,
    /// What came of it.
    #[diesel(sql_type = Text)]
    pub outcome: Outcome,
    /// The actor's email at the time.
    #[diesel(sql_type = Nullable<Text>)]
    pub actor_email: Option<String>,
    /// Kind of target.
    #[diesel(sql_type = Text)]
    pub target_type: String,
    /// Target id.
    #[diesel(sql_type = Nullable<Text>)]
    pub target_id: Option<String>,
    /// Slug of the tenant concerned.
    #[diesel(sql_type = Nullable<Text>)]
    pub tenant_slug: Option<String>,
    /// Slug of the partner concerned.
    #[diesel(sql_type = Nullable<Text>)]
    pub partner_slug: Option<String>,
    /// Specifics (a JSON object without secrets).
    #[diesel(sql_type = Jsonb)]
    pub details: serde_json::Value,
    /// Originating request.
    #[diesel(sql_type = Nullable<Text>)]
    pub request_id: Option<String>,
    /// Client IP address.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// Under impersonation: the email of the user acted as.
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_email: Option<String>,
    /// Under impersonation: the session.
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub impersonation_session_id: Option<uuid::Uuid>,
}

impl AuditEventView {
    /// The event's position in the list.
    pub fn key(&self) -> EventKey {
        (self.at, self.id)
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The rows of `window` (when given) and the number of events matching the scope and the
/// filter, ignoring the window (when `with_total`): one statement each, pipelined on `conn`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: &AuditScope,
    filter: &AuditFilter,
    window: Option<&PageWindow>,
    with_total: bool,
) -> QueryResult<(Vec<AuditEventView>, Option<i64>)> {
    let conn: &AsyncPgConnection = conn;
    let rows = async {
        match window {
            Some(window) => {
                let query = Sql::new(PAGE_SELECT)
                    .filtered(scope, filter)
                    .windowed(window);
                query.query.load(&mut &*conn).await
            }
            None => Ok(Vec::new()),
        }
    };
    let total = async {
        if !with_total {
            return Ok(None);
        }
        let query = Sql::new(COUNT_SELECT).filtered(scope, filter);
        let count: Count = query.query.get_result(&mut &*conn).await?;
        Ok(Some(count.n))
    };
    tokio::try_join!(rows, total)
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `EXPLAIN` of the page statement [`list`] sends, one line per plan node (for tests that
/// check each filter has an index, and for diagnosing slow pages).
pub async fn explain_page(
    conn: &mut AsyncPgConnection,
    scope: &AuditScope,
    filter: &AuditFilter,
    window: &PageWindow,
) -> QueryResult<Vec<String>> {
    let query = Sql::new(&format!("EXPLAIN {PAGE_SELECT}"))
        .filtered(scope, filter)
        .windowed(window);
    let lines: Vec<PlanLine> = query.query.load(conn).await?;
    Ok(lines.into_iter().map(|l| l.line).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn field_of(err: AppError) -> String {
        match err {
            AppError::BadUserInput { field, .. } => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn since_after_before_is_refused_on_since() {
        let now = Utc::now();
        let filter = AuditFilter {
            since: Some(now),
            before: Some(now - chrono::Duration::seconds(1)),
            ..Default::default()
        };
        assert_eq!(
            field_of(filter.validate("filter").unwrap_err()),
            "filter.since"
        );
        let empty_range = AuditFilter {
            since: Some(now),
            before: Some(now),
            ..Default::default()
        };
        assert!(
            empty_range.validate("filter").is_ok(),
            "an empty range is not an error"
        );
    }

    #[test]
    fn search_is_trimmed_bounded_and_free_of_control_characters() {
        let search = |s: &str| {
            AuditFilter {
                search: Some(s.into()),
                ..Default::default()
            }
            .validate("filter")
        };
        assert_eq!(
            search("  Tenant ").unwrap().search.as_deref(),
            Some("Tenant")
        );
        assert_eq!(search("   ").unwrap().search, None);
        assert!(
            search(&"é".repeat(MAX_SEARCH_CHARS)).is_ok(),
            "counted in characters"
        );
        let too_long = search(&"x".repeat(MAX_SEARCH_CHARS + 1)).unwrap_err();
        assert_eq!(too_long.code(), ErrorCode::BadUserInput);
        assert_eq!(field_of(too_long), "filter.search");
        assert_eq!(field_of(search("a\nb").unwrap_err()), "filter.search");
    }
}
