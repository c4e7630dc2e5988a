//! Reading the test's database for assertions: row counts, and the "nothing changed"
//! fingerprint of every table.
//!
//! The fingerprint covers every base table of the `public` schema that `information_schema`
//! lists, except the few in [`IGNORED`], each with its reason. A table added by a migration
//! is therefore covered the day it exists: no list to forget.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Tables the fingerprint leaves out, and why.
pub const IGNORED: &[(&str, &str)] = &[
    (
        "__diesel_schema_migrations",
        "the migration ledger; no request writes it",
    ),
    (
        "users",
        "resolving the Viewer creates a first-time caller's row and keeps email and name in \
         sync with the token; that is sign-in, not the change under test",
    ),
    (
        "audit_events",
        "a refused call must write exactly one row there; `checks` counts it instead",
    ),
];

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct Digest {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    digest: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every base table of the `public` schema, by name.
pub async fn tables(conn: &mut AsyncPgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .load::<Name>(conn)
    .await
    .expect("list tables")
    .into_iter()
    .map(|t| t.name)
    .collect()
}

/// A digest of every row of every table not in [`IGNORED`], by table: compare two with
/// `assert_eq!` and the message names the tables that changed.
pub async fn fingerprint(conn: &mut AsyncPgConnection) -> BTreeMap<String, String> {
    let covered: Vec<String> = tables(conn)
        .await
        .into_iter()
        .filter(|t| !IGNORED.iter().any(|(ignored, _)| ignored == t))
        .collect();
    assert!(!covered.is_empty(), "no table to fingerprint");
    let parts: Vec<String> = covered
        .iter()
        .map(|table| {
            let literal = table.replace('\'', "''");
            let ident = table.replace('"', "\"\"");
            format!(
                "SELECT '{literal}'::text AS name,
                        coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') AS digest
                   FROM \"{ident}\" r"
            )
        })
        .collect();
    diesel::sql_query(parts.join(" UNION ALL "))
        .load::<Digest>(conn)
        .await
        .expect("fingerprint")
        .into_iter()
        .map(|d| (d.name, d.digest))
        .collect()
}

/// `SELECT count(*) FROM <from_where>`, e.g. `count(conn, "jobs WHERE status = 'done'")`.
pub async fn count(conn: &mut AsyncPgConnection, from_where: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {from_where}"))
        .get_result::<Count>(conn)
        .await
        .expect("count")
        .n
}
