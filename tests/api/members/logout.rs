//! `forceLogoutMember` ends only that user's sessions, and calls Authentik with no database
//! transaction open: its checks' transaction has ended before the call, and the audit row is
//! written after it, saying what happened (how many sessions ended, or the failure).

use std::time::{Duration, Instant};

use axum::http::Method;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use super::lifecycle::{LOGOUT, authentik_user, id_of, of};
use super::{create, settled, world};
use crate::provisioning::Stack;
use crate::support::fakes::FaultKind;
use crate::support::tables::count;

#[derive(diesel::QueryableByName)]
struct Open {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn force_logout_ends_only_that_users_sessions_with_no_transaction_open() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "lou@acme.example").await;
    create(&w, "ann", "acme", "kim@acme.example").await;
    settled(&w, "acme", "lou@acme.example", "ACTIVE").await;
    settled(&w, "acme", "kim@acme.example", "ACTIVE").await;
    let lou = authentik_user(&stack, "lou@acme.example").unwrap()["pk"]
        .as_i64()
        .unwrap();
    let kim = authentik_user(&stack, "kim@acme.example").unwrap()["pk"]
        .as_i64()
        .unwrap();
    stack.authentik.add_session(lou);
    stack.authentik.add_session(lou);
    let kims = stack.authentik.add_session(kim);
    let id = id_of(&w, "acme", "lou@acme.example").await;

    // Logging yourself out this way is refused before Authentik hears of it (other denials:
    // `refusals.rs`).
    let calls = stack.authentik.calls().len();
    let ann = id_of(&w, "acme", "ann@example.com").await;
    w.denied(
        Some("ann"),
        LOGOUT,
        of("acme", &ann),
        "member.force_logout",
        "FORBIDDEN",
    )
    .await;
    assert_eq!(stack.authentik.calls().len(), calls);

    // Authentik answers the session list slowly: meanwhile, no connection of this database
    // may sit inside a transaction.
    stack.authentik.fail_next_on(
        1,
        FaultKind::Delay(Duration::from_millis(1500)),
        Method::GET,
        "/api/v3/core/authenticated_sessions/",
    );
    let token = w.token("ann");
    let mut conn = w.db.connect().await;
    let started = Instant::now();
    let mut observed = 0;
    let call = w.graphql_as_with(&token, LOGOUT, of("acme", &id));
    let watch = async {
        loop {
            let open: Open = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND backend_type = 'client backend'
                    AND state IN ('idle in transaction', 'active')
                    AND xact_start < now() - interval '300 milliseconds'",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            observed = observed.max(open.n);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let body: Value = tokio::select! {
        body = call => body,
        _ = watch => unreachable!(),
    };
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "the delay applied"
    );
    assert_eq!(
        observed, 0,
        "a transaction stayed open across the Authentik call"
    );
    assert_eq!(
        body["data"]["forceLogoutMember"]["sessionsEnded"], 2,
        "{body}"
    );
    // Only lou's sessions ended.
    let sessions = stack.authentik.state().sessions.clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["uuid"], kims.as_str());
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'member.force_logout' AND outcome = 'success' \
               AND (details->>'sessionsEnded')::int = 2 \
               AND details->>'email' = 'lou@acme.example' AND target_id IS NOT NULL"
        )
        .await,
        1
    );

    // Authentik down: the failure is the answer and the audit row, nothing else.
    stack.authentik.add_session(lou);
    stack.authentik.fail_next_on(
        1,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        Method::GET,
        "/api/v3/core/authenticated_sessions/",
    );
    let id = id_of(&w, "acme", "lou@acme.example").await;
    w.refused(
        Some("ann"),
        LOGOUT,
        of("acme", &id),
        "member.force_logout",
        "UPSTREAM_UNAVAILABLE",
        "failure",
    )
    .await;
    assert_eq!(stack.authentik.state().sessions.len(), 2, "nothing ended");
}
