//! Prepared-statement caching for statements diesel will not cache on its own.
//!
//! diesel keeps a per-connection cache of prepared statements, but leaves out every statement
//! whose SQL it cannot prove fixed: all of `sql_query`, and anything with a raw `sql` fragment
//! (`partners.margin_pct::text`). Those are parsed, planned and closed again on every
//! execution, an extra round trip each. [`cached`] marks a statement whose SQL text is one of
//! a fixed set (a `const` or a literal, never text built at run time) as safe to cache: the
//! connection then prepares it once and only binds and executes it afterwards. Each distinct
//! SQL text is one cache entry per connection, so text built from input must not go through
//! here.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A statement with fixed SQL text, cached as a prepared statement per connection.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

/// Marks `query` (whose SQL text must be fixed) as safe to cache as a prepared statement.
pub fn cached<Q>(query: Q) -> Cached<Q> {
    Cached(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // Keyed by its SQL text (and bind types) in the connection's cache.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}
