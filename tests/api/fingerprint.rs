//! The "nothing changed" fingerprint of `support::tables`: it covers every table of the
//! schema but the named exceptions, so a table a migration adds is covered without anyone
//! remembering to list it.

use std::collections::BTreeSet;

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};

use crate::support::tables::{IGNORED, fingerprint, tables};
use crate::support::{TestApp, World};

/// The tables the fingerprint listed by hand before it read `information_schema`.
const HAND_WRITTEN_LIST: [&str; 9] = [
    "tenants",
    "partners",
    "memberships",
    "subscriptions",
    "partner_staff",
    "feature_flags",
    "jobs",
    "provisioning_steps",
    "provisioning_events",
];

/// The digest the hand-written list gave, to show what it missed.
async fn hand_written_fingerprint(conn: &mut AsyncPgConnection) -> String {
    #[derive(diesel::QueryableByName)]
    struct Digest {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let rows = HAND_WRITTEN_LIST
        .iter()
        .map(|t| format!("SELECT r::text AS x FROM {t} r"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    diesel_async::RunQueryDsl::get_result::<Digest>(
        diesel::sql_query(format!(
            "SELECT coalesce(md5(string_agg(x, '|' ORDER BY x)), '') AS t FROM ({rows}) rows"
        )),
        conn,
    )
    .await
    .expect("hand-written fingerprint")
    .t
}

#[tokio::test]
async fn every_table_is_covered_but_the_named_exceptions() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let all: BTreeSet<String> = tables(&mut conn).await.into_iter().collect();
    let covered: BTreeSet<String> = fingerprint(&mut conn).await.into_keys().collect();
    let ignored: BTreeSet<String> = IGNORED.iter().map(|(t, _)| t.to_string()).collect();
    // Every exception names a table that exists: a renamed table cannot hide behind a stale
    // entry, and nothing else is left out.
    assert!(
        ignored.is_subset(&all),
        "stale entries: {ignored:?} of {all:?}"
    );
    assert_eq!(
        covered,
        all.difference(&ignored).cloned().collect(),
        "covered = all tables minus the exceptions"
    );
    // It covers at least what the hand-written list did.
    for table in HAND_WRITTEN_LIST {
        assert!(covered.contains(table), "{table} is covered");
    }
    assert!(
        IGNORED.iter().all(|(_, why)| !why.is_empty()),
        "every exception says why"
    );
}

#[tokio::test]
async fn a_change_in_a_table_the_old_list_did_not_name_is_detected() {
    let w = World::new().tenant("acme").spawn().await;
    let mut conn = w.db.connect().await;
    // A table a later migration adds (like the rows of a coming area), with one row.
    conn.batch_execute(
        "CREATE TABLE mail_lists (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants (id),
                               name text NOT NULL, verified boolean NOT NULL DEFAULT false);
         INSERT INTO mail_lists (tenant_id, name) SELECT id, 'acme.example' FROM tenants;",
    )
    .await
    .expect("a new table");
    let before = fingerprint(&mut conn).await;
    let hand_written_before = hand_written_fingerprint(&mut conn).await;
    assert!(before.contains_key("mail_lists"), "{before:?}");

    // What a careless mutation might do: change a row of the new table only.
    conn.batch_execute("UPDATE mail_lists SET verified = true")
        .await
        .expect("change the new table");
    let after = fingerprint(&mut conn).await;
    let changed: Vec<&String> = after
        .iter()
        .filter(|(table, digest)| before.get(*table) != Some(digest))
        .map(|(table, _)| table)
        .collect();
    assert_eq!(changed, ["mail_lists"], "the change is seen, and named");
    assert_eq!(
        hand_written_fingerprint(&mut conn).await,
        hand_written_before,
        "the hand-written list did not see it"
    );

    // A new row, and a deleted one, are seen too.
    conn.batch_execute(
        "INSERT INTO mail_lists (tenant_id, name) SELECT id, 'b.example' FROM tenants",
    )
    .await
    .unwrap();
    let inserted = fingerprint(&mut conn).await;
    assert_ne!(inserted["mail_lists"], after["mail_lists"]);
    conn.batch_execute("DELETE FROM mail_lists WHERE name = 'b.example'")
        .await
        .unwrap();
    assert_eq!(fingerprint(&mut conn).await, after, "back to where it was");
}

#[tokio::test]
async fn ignored_tables_do_not_move_the_fingerprint_and_covered_ones_do() {
    let w = World::new().tenant("acme").user("alice").spawn().await;
    let mut conn = w.db.connect().await;
    let before = fingerprint(&mut conn).await;
    conn.batch_execute(
        "UPDATE users SET name = 'Alice' WHERE authentik_subject = 'alice';
         INSERT INTO audit_events (action, target_type, outcome) VALUES ('x.y', 'tenant', 'success');",
    )
    .await
    .unwrap();
    assert_eq!(
        fingerprint(&mut conn).await,
        before,
        "users and audit_events"
    );
    conn.batch_execute("UPDATE tenants SET name = 'Acme' WHERE slug = 'acme'")
        .await
        .unwrap();
    let after = fingerprint(&mut conn).await;
    assert_ne!(after["tenants"], before["tenants"]);
    assert_eq!(
        after.iter().filter(|(t, d)| before[*t] != **d).count(),
        1,
        "only tenants moved"
    );
}
