//! The health rule `MFA_COVERAGE_LOW` fed by the stored enrollment snapshot: `Tenant.mfaStatus`
//! stores what the Authentik fake says, the `mfa_snapshot` job refreshes stale rows (and keeps
//! them when Authentik fails), and the rule follows the tenant's policy.

use std::time::Duration;

use axum::http::Method;
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::exec;
use crate::provisioning::{Stack, quick_jobs};
use crate::support::fakes::FaultKind;
use crate::support::tables::count;
use crate::support::{Role, Tenant, TestApp, World};
use platform_api::jobs::mfa_snapshot::BATCH;

const AUTHENTICATORS: &str = "/api/v3/authenticators/admin/all/";

const MFA_STATUS: &str = r#"
query($slug: String!) { tenant(slug: $slug) { mfaStatus { enrolled total flagged } } }"#;

const HEALTH: &str = r#"
query($slug: String!) { tenant(slug: $slug) { health { score reasons { code message weight } } } }"#;

/// `acme`: owner `olga` (pk 1), admin `ann` (pk 2), member `mo` (pk 3), admin `nat` (no
/// Authentik account yet); `beta`: admin `zed` (pk 4). Upstream answers are not cached, so
/// every read sees the fake's current state.
async fn world(stack: &Stack, workers: usize) -> World {
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        c.security.cache_ttl = Duration::ZERO;
        c.security.mfa_snapshot_interval = Duration::from_secs(3600);
        quick_jobs(c, workers);
    })
    .await;
    let w = World::new()
        .partner("resell")
        .tenant(Tenant::of("acme", "resell").status("active"))
        .tenant(Tenant::of("beta", "resell").status("active"))
        .operator("root")
        .member("olga", "acme", Role::Owner)
        .member("ann", "acme", Role::Admin)
        .member("mo", "acme", Role::Member)
        .member("nat", "acme", Role::Admin)
        .member("zed", "beta", Role::Admin)
        .build(app)
        .await;
    for (subject, pk) in [("olga", 1), ("ann", 2), ("mo", 3), ("zed", 4)] {
        exec(
            &w,
            &format!(
                "UPDATE users SET authentik_user_pk = {pk} WHERE authentik_subject = '{subject}'"
            ),
        )
        .await;
    }
    w
}

async fn set_mode(w: &World, slug: &str, mode: &str) {
    exec(
        w,
        &format!(
            "INSERT INTO security_policies (tenant_id, mfa_mode)
             SELECT id, '{mode}' FROM tenants WHERE slug = '{slug}'
             ON CONFLICT (tenant_id) DO UPDATE SET mfa_mode = excluded.mfa_mode"
        ),
    )
    .await;
}

/// The snapshot rows as `(subject, enrolled)`, by subject.
async fn snapshot(w: &World) -> Vec<(String, bool)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        subject: String,
        #[diesel(sql_type = Bool)]
        enrolled: bool,
    }
    let mut conn = w.db.connect().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT u.authentik_subject AS subject, e.enrolled
           FROM mfa_enrollments e JOIN users u ON u.id = e.user_id ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.subject, r.enrolled)).collect()
}

fn snap(rows: &[(&str, bool)]) -> Vec<(String, bool)> {
    rows.iter().map(|(s, e)| ((*s).to_owned(), *e)).collect()
}

/// The MFA reason of `slug`'s health as `(weight, message)`, if any.
async fn mfa_reason(w: &World, slug: &str) -> Option<(i64, String)> {
    let body = w.query_with("root", HEALTH, json!({ "slug": slug })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let reasons = body["data"]["tenant"]["health"]["reasons"].clone();
    reasons
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "MFA_COVERAGE_LOW")
        .map(|r| {
            (
                r["weight"].as_i64().unwrap(),
                r["message"].as_str().unwrap().to_owned(),
            )
        })
}

async fn read_mfa_status(w: &World, slug: &str) -> Value {
    let body = w
        .query_with("root", MFA_STATUS, json!({ "slug": slug }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"]["mfaStatus"].clone()
}

#[tokio::test]
async fn reading_mfa_status_stores_the_snapshot_and_the_rule_follows_the_policy() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    stack.authentik.add_device(1, "totp");
    set_mode(&w, "acme", "required_for_admins").await;
    set_mode(&w, "beta", "required_for_admins").await;

    // Nothing known yet: the rule is skipped, nothing fabricated.
    assert_eq!(snapshot(&w).await, []);
    assert_eq!(mfa_reason(&w, "acme").await, None);

    // One read of acme stores its members with an Authentik account, in one statement.
    let before = w.statements();
    let status = read_mfa_status(&w, "acme").await;
    let statements = w.statements() - before;
    assert_eq!(status, json!({ "enrolled": 1, "total": 4, "flagged": 2 }));
    assert_eq!(
        snapshot(&w).await,
        snap(&[("ann", false), ("mo", false), ("olga", true)]),
        "nat has no Authentik account; zed's tenant was not read"
    );
    let again = w.statements();
    read_mfa_status(&w, "acme").await;
    assert_eq!(
        w.statements() - again,
        statements,
        "the same statements on a second read (one upsert, whatever the members)"
    );

    // admins mode: olga and ann must enrol (nat is unknown, mo is not required); ann lacks a
    // factor: 20 · 1/2 = 10 points.
    assert_eq!(
        mfa_reason(&w, "acme").await,
        Some((
            10,
            "1 of 2 members required to use MFA have no second factor".into()
        ))
    );
    // beta: nothing known of zed yet.
    assert_eq!(mfa_reason(&w, "beta").await, None);
    read_mfa_status(&w, "beta").await;
    assert_eq!(
        mfa_reason(&w, "beta").await.map(|r| r.0),
        Some(20),
        "zed, beta's only admin, has no factor"
    );
    // zed (not enrolled) is not counted in acme.
    assert_eq!(mfa_reason(&w, "acme").await.map(|r| r.0), Some(10));

    // Everyone required: mo counts too (2 of 3 missing: ⌈20 · 2/3⌉ = 14).
    set_mode(&w, "acme", "required").await;
    assert_eq!(mfa_reason(&w, "acme").await.map(|r| r.0), Some(14));

    // ann enrols; once read, the admins are covered.
    stack.authentik.add_device(2, "webauthn");
    set_mode(&w, "acme", "required_for_admins").await;
    assert_eq!(
        mfa_reason(&w, "acme").await.map(|r| r.0),
        Some(10),
        "the snapshot changes only when Authentik is read"
    );
    read_mfa_status(&w, "acme").await;
    assert_eq!(
        snapshot(&w).await,
        snap(&[("ann", true), ("mo", false), ("olga", true), ("zed", false)])
    );
    assert_eq!(mfa_reason(&w, "acme").await, None, "all admins enrolled");
    // ... though mo, a member, has none: only 'required' counts members.
    set_mode(&w, "acme", "required").await;
    assert_eq!(mfa_reason(&w, "acme").await.map(|r| r.0), Some(7));

    // Optional, off, and no policy row (the default, optional) never fire.
    for mode in ["optional", "off"] {
        set_mode(&w, "acme", mode).await;
        set_mode(&w, "beta", mode).await;
        assert_eq!(mfa_reason(&w, "acme").await, None, "{mode}");
        assert_eq!(mfa_reason(&w, "beta").await, None, "{mode}");
    }
    exec(&w, "DELETE FROM security_policies").await;
    assert_eq!(mfa_reason(&w, "beta").await, None, "no policy row");

    // A suspended member is not required any more.
    set_mode(&w, "beta", "required").await;
    exec(
        &w,
        "UPDATE memberships SET status = 'suspended'
          WHERE user_id = (SELECT id FROM users WHERE authentik_subject = 'zed')",
    )
    .await;
    assert_eq!(mfa_reason(&w, "beta").await, None);
}

/// Makes the queued `mfa_snapshot` run due now and waits until it is done.
async fn run_job(w: &World) {
    let mut conn = w.db.connect().await;
    let done = "jobs WHERE kind = 'mfa_snapshot' AND status = 'done'";
    let before = count(&mut conn, done).await;
    let queued = "jobs WHERE kind = 'mfa_snapshot' AND status = 'queued'";
    assert_eq!(count(&mut conn, queued).await, 1, "one run queued");
    exec(
        w,
        "UPDATE jobs SET run_at = now() WHERE kind = 'mfa_snapshot' AND status = 'queued'",
    )
    .await;
    for _ in 0..400 {
        if count(&mut conn, done).await > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no mfa_snapshot run finished");
}

/// Seconds until the queued `mfa_snapshot` run.
async fn next_run_in(w: &World) -> i64 {
    #[derive(QueryableByName)]
    struct Secs {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        secs: i64,
    }
    let mut conn = w.db.connect().await;
    diesel::sql_query(
        "SELECT extract(epoch FROM run_at - now())::int8 AS secs
           FROM jobs WHERE kind = 'mfa_snapshot' AND status = 'queued'",
    )
    .get_result::<Secs>(&mut conn)
    .await
    .unwrap()
    .secs
}

async fn make_stale(w: &World) {
    exec(
        w,
        "UPDATE mfa_enrollments SET checked_at = now() - interval '2 hours'",
    )
    .await;
}

#[tokio::test]
async fn the_job_refreshes_stale_snapshots_and_keeps_them_when_authentik_fails() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 1).await;
    stack.authentik.add_device(1, "totp");
    set_mode(&w, "acme", "required_for_admins").await;

    // The first run (queued at start) stores every active member with an account, across
    // tenants, without any mfaStatus read.
    run_job(&w).await;
    assert_eq!(
        snapshot(&w).await,
        snap(&[
            ("ann", false),
            ("mo", false),
            ("olga", true),
            ("zed", false)
        ])
    );
    assert_eq!(mfa_reason(&w, "acme").await.map(|r| r.0), Some(10));
    let next = next_run_in(&w).await;
    assert!(
        (3500..=3600).contains(&next),
        "next run in the interval: {next}"
    );

    // Authentik changes; a fresh snapshot is not asked again.
    stack.authentik.add_device(2, "totp");
    stack
        .authentik
        .state()
        .devices
        .retain(|d| d["user"] != json!(1));
    stack.authentik.clear_calls();
    run_job(&w).await;
    assert!(
        stack
            .authentik
            .calls_to(Method::GET, AUTHENTICATORS)
            .is_empty(),
        "nothing was stale"
    );
    assert_eq!(
        snapshot(&w).await,
        snap(&[
            ("ann", false),
            ("mo", false),
            ("olga", true),
            ("zed", false)
        ])
    );

    // Stale: the run reads it again.
    make_stale(&w).await;
    run_job(&w).await;
    assert_eq!(
        stack.authentik.calls_to(Method::GET, AUTHENTICATORS).len(),
        4
    );
    assert_eq!(
        snapshot(&w).await,
        snap(&[
            ("ann", true),
            ("mo", false),
            ("olga", false),
            ("zed", false)
        ])
    );
    assert_eq!(mfa_reason(&w, "acme").await.map(|r| r.0), Some(10));
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "mfa_enrollments WHERE checked_at < now() - interval '1 minute'"
        )
        .await,
        0
    );

    // Authentik fails: nothing is overwritten, the run settles and comes back sooner.
    stack.authentik.state().devices.clear();
    make_stale(&w).await;
    stack.authentik.fail_next_on(
        usize::MAX,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        Method::GET,
        AUTHENTICATORS,
    );
    stack.authentik.clear_calls();
    run_job(&w).await;
    let asked = stack.authentik.calls_to(Method::GET, AUTHENTICATORS).len();
    assert!(asked > 0, "it did ask");
    eprintln!("calls to a failing Authentik in one run for 4 stale users: {asked}");
    assert_eq!(
        snapshot(&w).await,
        snap(&[
            ("ann", true),
            ("mo", false),
            ("olga", false),
            ("zed", false)
        ]),
        "the previous snapshot is kept"
    );
    assert_eq!(
        count(
            &mut conn,
            "mfa_enrollments WHERE checked_at < now() - interval '1 hour'"
        )
        .await,
        4,
        "and stays stale"
    );
    assert_eq!(
        count(
            &mut conn,
            "jobs WHERE kind = 'mfa_snapshot' AND (status <> 'done' OR attempts <> 1 OR last_error IS NOT NULL)
                AND status <> 'queued'"
        )
        .await,
        0,
        "every run settled at its first attempt, without an error"
    );
    let next = next_run_in(&w).await;
    assert!((250..=300).contains(&next), "retried in 5 minutes: {next}");

    // Recovered: the next run catches up.
    stack.authentik.clear_faults();
    run_job(&w).await;
    assert_eq!(
        snapshot(&w).await,
        snap(&[
            ("ann", false),
            ("mo", false),
            ("olga", false),
            ("zed", false)
        ])
    );
    assert_eq!(
        mfa_reason(&w, "acme").await.map(|r| r.0),
        Some(20),
        "neither admin has a factor now"
    );
}

#[tokio::test]
async fn the_job_is_not_queued_when_turned_off_or_without_authentik() {
    let stack = Stack::spawn().await;
    let upstreams = stack.config();
    let off = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        c.security.mfa_snapshot_interval = Duration::ZERO;
        quick_jobs(c, 1);
    })
    .await;
    let no_authentik = TestApp::spawn_with(|c| quick_jobs(c, 1)).await;
    for (name, app) in [("interval 0", off), ("no Authentik", no_authentik)] {
        let w = World::new().operator("root").build(app).await;
        let mut conn = w.db.connect().await;
        assert_eq!(
            count(&mut conn, "jobs WHERE kind = 'service_probe'").await,
            1,
            "{name}: the other periodic jobs are queued"
        );
        assert_eq!(
            count(&mut conn, "jobs WHERE kind = 'mfa_snapshot'").await,
            0,
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_job_pages_through_more_users_than_one_batch() {
    let stack = Stack::spawn().await;
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        c.security.cache_ttl = Duration::ZERO;
        c.security.mfa_snapshot_interval = Duration::from_secs(3600);
        quick_jobs(c, 1);
    })
    .await;
    let users = BATCH + 1;
    let w = World::new()
        .operator("root")
        .bulk(1, 1, i32::try_from(users).unwrap())
        .build(app)
        .await;
    exec(
        &w,
        "UPDATE users SET authentik_user_pk = 5000 + n FROM
           (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users
             WHERE authentik_subject LIKE 'p-000-t-%') s
          WHERE users.id = s.id",
    )
    .await;
    // The last user by id, read in the second batch, has a factor.
    stack.authentik.add_device(5000 + users, "totp");
    run_job(&w).await;
    let mut conn = w.db.connect().await;
    assert_eq!(count(&mut conn, "mfa_enrollments").await, users);
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "mfa_enrollments e JOIN users u ON u.id = e.user_id
                  WHERE e.enrolled AND u.authentik_user_pk = {}",
                5000 + users
            )
        )
        .await,
        1
    );
    assert_eq!(count(&mut conn, "mfa_enrollments WHERE enrolled").await, 1);
    assert_eq!(
        stack.authentik.calls_to(Method::GET, AUTHENTICATORS).len(),
        usize::try_from(users).unwrap(),
        "each user asked once"
    );
}
