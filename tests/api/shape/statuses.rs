//! Statuses are typed: a status the code does not know, written behind its back with SQL, is
//! an error when read — never silently another status. And no status is spelled as a string
//! literal outside its enum's mapping (`text_enum!`).

use std::path::Path;

use diesel_async::RunQueryDsl;
use platform_api::domain::{partners, tenants};

use crate::support::app::first_error_code;
use crate::support::{Role, Tenant, World};

/// An error and its sources, as one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

async fn exec(conn: &mut diesel_async::AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.expect(sql);
}

#[tokio::test]
async fn an_unknown_status_in_the_database_is_an_error_not_a_default() {
    let app = World::new()
        .partner("odd-partner")
        .tenant(Tenant::of("odd-tenant", "odd-partner"))
        .operator("root")
        .spawn()
        .await;
    let mut conn = app.db.connect().await;
    // What a newer release (or a hand edit) could leave behind.
    exec(
        &mut conn,
        "ALTER TABLE tenants DROP CONSTRAINT tenants_status_valid",
    )
    .await;
    exec(
        &mut conn,
        "ALTER TABLE partners DROP CONSTRAINT partners_status_valid",
    )
    .await;
    exec(
        &mut conn,
        "UPDATE tenants SET status = 'archived' WHERE slug = 'odd-tenant'",
    )
    .await;
    exec(
        &mut conn,
        "UPDATE partners SET status = 'dormant' WHERE slug = 'odd-partner'",
    )
    .await;

    let err = tenants::by_slug(&mut conn, "odd-tenant").await.unwrap_err();
    assert!(
        chain(&err).contains(r#"unknown TenantStatus value "archived""#),
        "{}",
        chain(&err)
    );
    let err = partners::by_slug(&mut conn, "odd-partner")
        .await
        .unwrap_err();
    assert!(
        chain(&err).contains(r#"unknown PartnerStatus value "dormant""#),
        "{}",
        chain(&err)
    );

    // Through the graph: an internal error (masked), never `PENDING` or `ACTIVE`.
    let body = app
        .query("root", r#"{ tenant(slug: "odd-tenant") { status } }"#)
        .await;
    assert_eq!(first_error_code(&body), "INTERNAL", "{body}");
    assert!(!body.to_string().contains("PENDING"), "{body}");
    let body = app
        .query("root", r#"{ partner(slug: "odd-partner") { status } }"#)
        .await;
    assert_eq!(first_error_code(&body), "INTERNAL", "{body}");
    assert!(!body.to_string().contains("ACTIVE"), "{body}");
}

#[tokio::test]
async fn an_unknown_role_or_membership_status_is_an_error_too() {
    let app = World::new()
        .tenant("acme")
        .member("bob", "acme", Role::Member)
        .spawn()
        .await;
    let mut conn = app.db.connect().await;
    exec(
        &mut conn,
        "ALTER TABLE memberships DROP CONSTRAINT memberships_role_valid",
    )
    .await;
    exec(&mut conn, "UPDATE memberships SET role = 'guest'").await;
    // The Viewer itself cannot be read: the request fails instead of guessing a role.
    let body = app.query("bob", "{ me { memberships { role } } }").await;
    assert_eq!(first_error_code(&body), "INTERNAL", "{body}");
    assert!(!body.to_string().contains("MEMBER"), "{body}");
}

/// Every spelling of every status, role and level the database holds.
const SPELLINGS: [&str; 22] = [
    "pending",
    "active",
    "suspended",
    "terminated",
    "owner",
    "admin",
    "member",
    "incomplete",
    "trialing",
    "past_due",
    "canceled",
    "unpaid",
    "monthly",
    "yearly",
    "success",
    "denied",
    "failure",
    "queued",
    "running",
    "done",
    "dead",
    "skipped",
];

/// The ways a literal is compared: in Rust (`==`, `!=`, diesel's `eq`/`ne`, a match arm) and
/// in SQL (`=`, `<>`, `IN (…)`).
fn comparisons(word: &str) -> Vec<String> {
    vec![
        format!("== \"{word}\""),
        format!("!= \"{word}\""),
        format!(".eq(\"{word}\")"),
        format!(".ne(\"{word}\")"),
        format!("\"{word}\" =>"),
        format!("\"{word}\" |"),
        format!("| \"{word}\""),
        format!("= '{word}'"),
        format!("<> '{word}'"),
        format!("('{word}'"),
        format!(", '{word}'"),
    ]
}

#[test]
fn no_status_is_compared_as_a_literal_outside_its_enum() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut files = 0;
    for file in walk(&src) {
        files += 1;
        let source = std::fs::read_to_string(&file).unwrap();
        // Unit tests may spell values to check the mapping.
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            for word in SPELLINGS {
                if comparisons(word).iter().any(|c| line.contains(c.as_str())) {
                    offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(files > 100, "only {files} files scanned");
    assert!(
        offenders.is_empty(),
        "statuses compared as literals outside their enum's mapping:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_literal_scan_sees_every_form() {
    let hits = |line: &str| {
        SPELLINGS
            .iter()
            .any(|w| comparisons(w).iter().any(|c| line.contains(c.as_str())))
    };
    assert!(hits(r#"if row.status == "terminated" {"#));
    assert!(hits(r#".filter(tenants::status.ne("terminated"))"#));
    assert!(hits(
        r#"(Self::Suspend, "pending" | "active") => Some("suspended"),"#
    ));
    assert!(hits("WHERE status IN ('queued', 'running')"));
    assert!(hits("SET status = 'pending', attempts = 0"));
    assert!(!hits(r#"Pending = "pending","#), "the mapping itself");
    assert!(
        !hits(r#"NewEvent::step(step, StepStatus::Ok, "done"),"#),
        "a message"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}
