//! An impersonation token works as the user until its session ends (endImpersonation,
//! expiry, the operator losing platform_admin), over HTTP and WebSocket; attribution; who
//! sees the sessions.

use std::time::Duration;

use serde_json::{Value, json};

use super::{END, ME, START, code, start_as_root, user_id, world};
use crate::support::World;
use crate::support::tables::count;
use crate::support::ws::{Incoming, WsClient};

const ACME: &str = r#"{ tenant(slug: "acme") { name } }"#;
const RENAME: &str = r#"
mutation($name: String!) {
  updateTenant(input: { tenant: "acme", name: $name }) { tenant { name } }
}"#;
const SESSIONS: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) { impersonationSessions { id operatorEmail userEmail reason active } }
}"#;

fn close_code(incoming: Incoming) -> u16 {
    match incoming {
        Incoming::Closed(Some(frame)) => u16::from(frame.code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn the_token_acts_as_the_user_is_attributed_and_stops_at_end_impersonation() {
    let w = world().await;
    let (token, session) = start_as_root(&w, "bob", json!({})).await;
    // Reads and allowed mutations of bob (an admin of acme may rename it).
    let read = w.graphql_as(&token, ACME).await;
    assert_eq!(read["data"]["tenant"]["name"], "acme", "{read}");
    let renamed = w
        .graphql_as_with(&token, RENAME, json!({ "name": "Acme (fixed)" }))
        .await;
    assert_eq!(
        renamed["data"]["updateTenant"]["tenant"]["name"], "Acme (fixed)",
        "{renamed}"
    );
    // What bob may not do, the impersonator may not either.
    let other = w
        .graphql_as(&token, r#"{ tenant(slug: "other") { name } }"#)
        .await;
    assert_eq!(code(&other), Some("NOT_FOUND"), "{other}");
    // The audit row names the operator, the user and the session.
    let audit = w
        .query(
            "root",
            r#"{ auditEvents(filter: { action: "tenant.update" }) {
                   nodes { actorEmail subjectEmail impersonationSessionId outcome } } }"#,
        )
        .await;
    assert_eq!(
        audit["data"]["auditEvents"]["nodes"],
        json!([{ "actorEmail": "root@example.com", "subjectEmail": "bob@example.com",
                 "impersonationSessionId": session, "outcome": "SUCCESS" }]),
        "{audit}"
    );
    // acme's admins see the session (with its reason); a member does not; another tenant's
    // admin sees neither acme nor the session on their own tenant.
    let listed = w
        .query_with("olive", SESSIONS, json!({ "slug": "acme" }))
        .await;
    let rows = &listed["data"]["tenant"]["impersonationSessions"];
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(rows[0]["operatorEmail"], "root@example.com");
    assert_eq!(rows[0]["userEmail"], "bob@example.com");
    assert_eq!(rows[0]["reason"], "ticket 42: cannot see invoices");
    assert_eq!(rows[0]["active"], true);
    let member = w
        .query_with("carl", SESSIONS, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&member), Some("FORBIDDEN"), "{member}");
    let stranger = w
        .query_with("eve", SESSIONS, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&stranger), Some("NOT_FOUND"), "{stranger}");
    let own = w
        .query_with("eve", SESSIONS, json!({ "slug": "other" }))
        .await;
    assert_eq!(
        own["data"]["tenant"]["impersonationSessions"],
        json!([]),
        "{own}"
    );
    let node = w
        .query_with(
            "eve",
            r#"query($id: ID!) { node(id: $id) { id } }"#,
            json!({ "id": session }),
        )
        .await;
    assert_eq!(node["data"]["node"], Value::Null, "{node}");
    // The tenant's admins also find it in the audit log.
    let log = w
        .query(
            "olive",
            r#"{ auditEvents(filter: { action: "impersonation.start" }) { totalCount } }"#,
        )
        .await;
    assert_eq!(log["data"]["auditEvents"]["totalCount"], 1, "{log}");

    // Ended: the very next request is UNAUTHENTICATED, and ending twice is a CONFLICT.
    let ended = w
        .query_with("root", END, json!({ "session": session }))
        .await;
    assert_eq!(
        ended["data"]["endImpersonation"]["session"]["active"], false,
        "{ended}"
    );
    assert_eq!(
        code(&w.graphql_as(&token, ACME).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&w.graphql_as(&token, ME).await),
        Some("UNAUTHENTICATED")
    );
    let again = w
        .query_with("root", END, json!({ "session": session }))
        .await;
    assert_eq!(code(&again), Some("CONFLICT"), "{again}");
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'impersonation.end' AND outcome = 'success'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_session_itself_may_end_it_but_not_another_one_and_portal_users_cannot_start() {
    let w = world().await;
    let (token, session) = start_as_root(&w, "bob", json!({})).await;
    let (_, other_session) = start_as_root(&w, "carl", json!({})).await;
    let foreign = w
        .graphql_as_with(&token, END, json!({ "session": other_session }))
        .await;
    assert_eq!(code(&foreign), Some("NOT_FOUND"), "{foreign}");
    let own = w
        .graphql_as_with(&token, END, json!({ "session": session }))
        .await;
    assert_eq!(
        own["data"]["endImpersonation"]["session"]["active"], false,
        "{own}"
    );
    // Starting needs operator powers: bob's own token, or an impersonation token, is refused.
    let input = json!({ "input": { "user": user_id(&w, "carl"), "reason": "x" } });
    let by_bob = w.query_with("bob", START, input.clone()).await;
    assert_eq!(code(&by_bob), Some("FORBIDDEN"), "{by_bob}");
    let (token2, _) = start_as_root(&w, "olive", json!({})).await;
    let nested = w.graphql_as_with(&token2, START, input).await;
    assert_eq!(code(&nested), Some("FORBIDDEN"), "{nested}");
    // Bad input names its field.
    let long = "x".repeat(501);
    for (input, field) in [
        (
            json!({ "user": user_id(&w, "carl"), "reason": "" }),
            "input.reason",
        ),
        (
            json!({ "user": user_id(&w, "carl"), "reason": long }),
            "input.reason",
        ),
        (
            json!({ "user": user_id(&w, "carl"), "reason": "r", "expiresIn": 1801 }),
            "input.expiresIn",
        ),
        (
            json!({ "user": user_id(&w, "carl"), "reason": "r", "tenant": "other" }),
            "input.tenant",
        ),
        (json!({ "reason": "r" }), "input.user"),
        (
            json!({ "user": user_id(&w, "root"), "reason": "r" }),
            "input.user",
        ),
    ] {
        let body = w.query_with("root", START, json!({ "input": input })).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn expiry_and_losing_platform_admin_end_the_token_at_once() {
    let w = world().await;
    let (short, _) = start_as_root(&w, "bob", json!({ "expiresIn": 2 })).await;
    assert_eq!(code(&w.graphql_as(&short, ACME).await), None);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        code(&w.graphql_as(&short, ACME).await),
        Some("UNAUTHENTICATED")
    );

    let (token, _) = start_as_root(&w, "carl", json!({})).await;
    assert_eq!(code(&w.graphql_as(&token, ACME).await), None);
    w.set_platform_admin("root", false).await;
    assert_eq!(
        code(&w.graphql_as(&token, ACME).await),
        Some("UNAUTHENTICATED")
    );
    // Given back, the session (still open and unexpired) works again: the flag is read each
    // time, nothing was cached.
    w.set_platform_admin("root", true).await;
    assert_eq!(code(&w.graphql_as(&token, ACME).await), None);
}

const FLAGS: &str = r#"subscription { featureFlagsChanged(tenantSlug: "acme") { key value } }"#;

/// A socket under `token` with a running subscription (its first message received).
async fn subscribed(w: &World, token: &str) -> WsClient {
    let mut ws = WsClient::connect_authenticated(w.addr, token).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": FLAGS } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) if m["type"] == "next" => ws,
        other => panic!("expected the current values, got {other:?}"),
    }
}

#[tokio::test]
async fn open_subscriptions_close_with_4403_when_the_session_ends() {
    let w = world().await;
    // endImpersonation
    let (token, session) = start_as_root(&w, "bob", json!({})).await;
    let mut ws = subscribed(&w, &token).await;
    let ended = w
        .query_with("root", END, json!({ "session": session }))
        .await;
    assert!(ended["errors"].is_null(), "{ended}");
    assert_eq!(close_code(ws.next().await), 4403);
    // An ended session's token cannot open a socket.
    let mut late = WsClient::connect(w.addr, Some("graphql-transport-ws"))
        .await
        .unwrap();
    late.send(json!({ "type": "connection_init", "payload": { "token": token } }))
        .await;
    assert_eq!(close_code(late.next().await), 4403);
    // The operator loses platform_admin.
    let (token, _) = start_as_root(&w, "carl", json!({})).await;
    let mut ws = subscribed(&w, &token).await;
    w.set_platform_admin("root", false).await;
    assert_eq!(close_code(ws.next().await), 4403);
    w.set_platform_admin("root", true).await;
    // Expiry (no leeway for impersonation tokens).
    let (token, _) = start_as_root(&w, "olive", json!({ "expiresIn": 2 })).await;
    let mut ws = subscribed(&w, &token).await;
    assert_eq!(close_code(ws.next().await), 4403);
    // A socket of an unrelated user is not closed by any of this.
    let mut bystander = subscribed(&w, &w.token("olive")).await;
    let (_, s) = start_as_root(&w, "bob", json!({})).await;
    w.query_with("root", END, json!({ "session": s })).await;
    bystander.send(json!({ "type": "ping" })).await;
    match bystander.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "pong", "{m}"),
        other => panic!("the bystander's socket closed: {other:?}"),
    }
}
