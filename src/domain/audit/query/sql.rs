//! The `auditEvents` statements, assembled from fixed SQL fragments with bound parameters
//! (nothing from the client is ever spliced into the text). Every filter has an index (see the
//! `*_audit_event_filter_indexes` migration); `SEARCH_EXPR` is the exact expression of
//! `audit_events_search_trgm_idx`.

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, HasSqlType, Text, Timestamptz, Uuid as SqlUuid};

use super::{AuditFilter, AuditScope, PageWindow, Towards};

/// The page: the event and the slugs of its tenant and partner (joins on primary keys).
pub(super) const PAGE_SELECT: &str = "\
    SELECT e.id, e.at, e.action, e.outcome, e.actor_email, e.target_type, e.target_id, \
           t.slug AS tenant_slug, p.slug AS partner_slug, e.details, e.request_id, e.ip, \
           e.subject_email, e.impersonation_session_id \
      FROM audit_events e \
      LEFT JOIN tenants t ON t.id = e.tenant_id \
      LEFT JOIN partners p ON p.id = e.partner_id \
     WHERE TRUE";

/// The total: the same conditions, no joins.
pub(super) const COUNT_SELECT: &str = "SELECT count(*) AS n FROM audit_events e WHERE TRUE";

/// Must stay identical to the expression of `audit_events_search_trgm_idx`.
const SEARCH_EXPR: &str =
    "(e.action || E'\\n' || coalesce(e.target_id, '') || E'\\n' || coalesce(e.actor_email, ''))";

/// Fixed SQL fragments and bound values, numbering the placeholders.
pub(super) struct Sql {
    pub(super) query: BoxedSqlQuery<'static, Pg, SqlQuery>,
    binds: usize,
}

impl Sql {
    pub(super) fn new(head: &str) -> Self {
        Self {
            query: diesel::sql_query(head).into_boxed(),
            binds: 0,
        }
    }

    fn push(mut self, fragment: &str) -> Self {
        self.query = self.query.sql(fragment);
        self
    }

    /// Appends the next placeholder (`$n`) and binds `value` to it.
    fn bind<ST, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + Send + 'static,
        ST: Send + 'static,
    {
        self.binds += 1;
        self.query = self
            .query
            .sql(format!("${}", self.binds))
            .bind::<ST, _>(value);
        self
    }

    /// The scope and the filters, as `AND …` conditions on `e`.
    pub(super) fn filtered(self, scope: &AuditScope, filter: &AuditFilter) -> Self {
        let mut q = self;
        if let AuditScope::Limited {
            admin_tenants,
            staff_partners,
        } = scope
        {
            // Only the arms that can match (the planner drops the constant FALSE), so each
            // arm is one index condition.
            q = q.push(" AND (FALSE");
            if !admin_tenants.is_empty() {
                q = q
                    .push(" OR e.tenant_id = ANY(")
                    .bind::<Array<SqlUuid>, _>(admin_tenants.clone())
                    .push(")");
            }
            if !staff_partners.is_empty() {
                q = q
                    .push(" OR e.partner_id = ANY(")
                    .bind::<Array<SqlUuid>, _>(staff_partners.clone())
                    .push(
                        ") OR e.tenant_id = ANY(ARRAY(\
                           SELECT id FROM tenants WHERE partner_id = ANY(",
                    )
                    .bind::<Array<SqlUuid>, _>(staff_partners.clone())
                    .push(")))");
            }
            q = q.push(")");
        }
        if let Some(slug) = &filter.tenant {
            q = q
                .push(" AND e.tenant_id = (SELECT id FROM tenants WHERE slug = ")
                .bind::<Text, _>(slug.clone())
                .push(")");
        }
        if let Some(slug) = &filter.partner {
            q = q
                .push(" AND (e.partner_id = (SELECT id FROM partners WHERE slug = ")
                .bind::<Text, _>(slug.clone())
                .push(
                    ") OR e.tenant_id = ANY(ARRAY(\
                       SELECT pt.id FROM tenants pt JOIN partners pp ON pp.id = pt.partner_id \
                        WHERE pp.slug = ",
                )
                .bind::<Text, _>(slug.clone())
                .push(")))");
        }
        if let Some(action) = &filter.action {
            q = q.push(" AND e.action = ").bind::<Text, _>(action.clone());
        }
        if let Some(ids) = &filter.ids {
            q = q
                .push(" AND e.id = ANY(")
                .bind::<Array<diesel::sql_types::BigInt>, _>(ids.clone())
                .push(")");
        }
        if let Some(outcome) = filter.outcome {
            q = q.push(" AND e.outcome = ").bind::<Text, _>(outcome);
        }
        if let Some(email) = &filter.actor_email {
            q = q
                .push(" AND lower(e.actor_email) = lower(")
                .bind::<Text, _>(email.clone())
                .push(")");
        }
        if let Some(term) = &filter.search {
            q = q
                .push(" AND ")
                .push(SEARCH_EXPR)
                .push(" ILIKE ")
                .bind::<Text, _>(format!("%{}%", escape_like(term)));
        }
        if let Some(since) = filter.since {
            q = q.push(" AND e.at >= ").bind::<Timestamptz, _>(since);
        }
        if let Some(before) = filter.before {
            q = q.push(" AND e.at < ").bind::<Timestamptz, _>(before);
        }
        q
    }

    /// The keyset condition, order and limit of `window`.
    pub(super) fn windowed(self, window: &PageWindow) -> Self {
        let (cmp, order) = match window.towards {
            Towards::Older => ("<", " ORDER BY e.at DESC, e.id DESC LIMIT "),
            Towards::Newer => (">", " ORDER BY e.at ASC, e.id ASC LIMIT "),
        };
        let mut q = self;
        if let Some((at, id)) = window.cursor {
            q = q
                .push(&format!(" AND (e.at, e.id) {cmp} ("))
                .bind::<Timestamptz, _>(at)
                .push(", ")
                .bind::<BigInt, _>(id)
                .push(")");
        }
        q.push(order)
            .bind::<BigInt, _>(i64::try_from(window.rows).unwrap_or(i64::MAX))
    }
}

/// `term` as a literal inside a LIKE pattern (`\` is the default escape character).
fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_literal() {
        assert_eq!(escape_like(r"50%_off\now"), r"50\%\_off\\now");
    }
}
