//! The one-time password at rest and in the logs: sealed while the jobs need it, in no text
//! or JSON column at any time, in no log line, and gone once the steps succeeded.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{create, settled, world};
use crate::provisioning::Stack;
use crate::provisioning::quick_jobs;
use crate::support::logs;
use crate::support::tables::count;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

/// Every `table.column` of the public schema whose text, JSON or bytes contain `needle`.
async fn columns_containing(conn: &mut AsyncPgConnection, needle: &str) -> Vec<String> {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb',
                                'ARRAY', 'bytea')",
    )
    .load(conn)
    .await
    .unwrap();
    assert!(columns.iter().any(|c| c.table_name == "member_secrets"));
    assert!(columns.iter().any(|c| c.data_type == "jsonb"));
    let mut hits = Vec::new();
    for c in &columns {
        let test = if c.data_type == "bytea" {
            format!(
                "position(convert_to($1, 'UTF8') IN \"{}\") > 0",
                c.column_name
            )
        } else {
            format!("strpos(\"{}\"::text, $1) > 0", c.column_name)
        };
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let found: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM \"{}\" WHERE {test}",
            c.table_name
        ))
        .bind::<Text, _>(needle)
        .get_result(conn)
        .await
        .unwrap();
        if found.n > 0 {
            hits.push(format!("{}.{}", c.table_name, c.column_name));
        }
    }
    hits
}

#[tokio::test]
async fn the_password_is_in_no_table_and_no_log_line_and_the_sealed_form_goes() {
    logs::install();
    let stack = Stack::spawn().await;
    // No workers yet: the password waits, sealed, for the jobs.
    let w = world(&stack, 0).await;
    let created = create(&w, "ann", "acme", "quiet@acme.example").await;
    let password = created["oneTimePassword"].as_str().unwrap().to_owned();
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(&mut conn, "member_secrets").await,
        1,
        "sealed while needed"
    );
    assert_eq!(
        columns_containing(&mut conn, &password).await,
        Vec::<String>::new()
    );
    // The scan finds what is there (it is not vacuous).
    assert!(
        columns_containing(&mut conn, "quiet@acme.example")
            .await
            .contains(&"users.email".to_owned())
    );

    let upstreams = stack.config();
    let workers = w
        .spawn_sibling(move |c| {
            c.upstreams = upstreams;
            quick_jobs(c, 2);
        })
        .await;
    settled(&w, "acme", "quiet@acme.example", "ACTIVE").await;
    assert_eq!(
        count(&mut conn, "member_secrets").await,
        0,
        "erased after success"
    );
    assert_eq!(
        columns_containing(&mut conn, &password).await,
        Vec::<String>::new()
    );
    drop(workers);
    assert!(
        !logs::lines_containing(r#""system":"stalwart""#).is_empty(),
        "the capture sees the upstream calls"
    );
    assert_eq!(logs::lines_containing(&password), Vec::<String>::new());
}
