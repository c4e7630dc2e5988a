//! `provisioningProgress` over a real WebSocket: replay, then live events from another
//! replica's workers, in order, then complete; and who may not subscribe.

use serde_json::{Value, json};

use super::{Stack, create_tenant, quick_jobs, settled, with_root};
use crate::support::tables::count;
use crate::support::ws::{Incoming, WsClient};
use crate::support::{Role, TestApp, World};

const PROGRESS: &str = r#"
subscription($slug: String!, $after: Int!) {
  provisioningProgress(tenantSlug: $slug, afterSeq: $after) { seq step status terminal }
}"#;

fn subscribe(id: &str, slug: &str, after: i64) -> Value {
    json!({ "id": id, "type": "subscribe",
            "payload": { "query": PROGRESS, "variables": { "slug": slug, "after": after } } })
}

/// Collects `next` payloads of operation `id` until its `complete`.
async fn until_complete(ws: &mut WsClient, id: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" && m["id"] == id => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                events.push(m["payload"]["data"]["provisioningProgress"].clone());
            }
            Incoming::Json(m) if m["type"] == "complete" && m["id"] == id => return events,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The operation ends with one error result (no data) and `complete`.
async fn refused(ws: &mut WsClient, id: &str, code: &str) {
    match ws.next().await {
        Incoming::Json(m) => {
            assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!(id)), "{m}");
            assert_eq!(m["payload"]["data"], json!(null), "no event: {m}");
            assert_eq!(m["payload"]["errors"][0]["extensions"]["code"], code, "{m}");
        }
        other => panic!("expected an error result, got {other:?}"),
    }
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(
            (&m["type"], &m["id"]),
            (&json!("complete"), &json!(id)),
            "{m}"
        ),
        other => panic!("expected complete, got {other:?}"),
    }
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn replays_then_streams_live_events_from_another_replica_then_completes() {
    let stack = Stack::spawn().await;
    // The API replica runs no workers; the jobs run on a sibling process.
    let api = with_root(
        TestApp::spawn_with(|c| {
            c.upstreams = stack.config();
            quick_jobs(c, 0);
        })
        .await,
    )
    .await;
    create_tenant(&api, "live", Some("live.example")).await;
    let mut ws = WsClient::connect_authenticated(api.addr, &api.token("root")).await;
    ws.send(subscribe("p", "live", 0)).await;
    // The four `queued` events are replayed at once.
    let mut got = Vec::new();
    for _ in 0..4 {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                got.push(m["payload"]["data"]["provisioningProgress"].clone());
            }
            other => panic!("expected a replayed event, got {other:?}"),
        }
    }
    assert!(got.iter().all(|e| e["status"] == "PENDING"), "{got:?}");
    // Now the workers start, elsewhere.
    let _workers = api
        .spawn_sibling(|c| {
            c.upstreams = stack.config();
            quick_jobs(c, 2);
        })
        .await;
    got.extend(until_complete(&mut ws, "p").await);
    let numbers = seqs(&got);
    assert_eq!(
        numbers,
        (1..=numbers.len() as i64).collect::<Vec<_>>(),
        "strictly increasing, no gap, no duplicate"
    );
    let last = got.last().unwrap();
    assert_eq!(
        (&last["terminal"], &last["status"], &last["step"]),
        (&json!(true), &json!("OK"), &json!(null))
    );
    assert_eq!(got.iter().filter(|e| e["terminal"] == true).count(), 1);
    // The stream holds exactly what the table holds.
    let mut conn = api.db.connect().await;
    assert_eq!(
        count(&mut conn, "provisioning_events").await,
        numbers.len() as i64
    );

    // Resuming after the last seen number of a finished run: nothing to send, complete.
    ws.send(subscribe("again", "live", *numbers.last().unwrap()))
        .await;
    assert!(until_complete(&mut ws, "again").await.is_empty());
    // Resuming in the middle replays only the rest.
    ws.send(subscribe("tail", "live", 10)).await;
    let tail = until_complete(&mut ws, "tail").await;
    assert_eq!(
        seqs(&tail),
        (11..=*numbers.last().unwrap()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_run_in_progress_is_followed_to_its_end_even_when_subscribed_late() {
    let stack = Stack::spawn().await;
    let app = super::app_with(&stack, 1).await;
    create_tenant(&app, "late", None).await;
    let done = settled(&app, "late").await;
    // A reconcile starts a second run; subscribe after some of it happened.
    let base = super::seqs(&done).len() as i64;
    app.allowed(
        "root",
        r#"mutation($tenant: String!) { reconcileTenant(tenant: $tenant) { queued } }"#,
        json!({ "tenant": "late" }),
        "tenant.reconcile",
    )
    .await;
    let mut ws = WsClient::connect_authenticated(app.addr, &app.token("root")).await;
    ws.send(subscribe("p", "late", base)).await;
    let events = until_complete(&mut ws, "p").await;
    let numbers = seqs(&events);
    assert_eq!(
        numbers,
        ((base + 1)..=(base + numbers.len() as i64)).collect::<Vec<_>>()
    );
    assert_eq!(events.last().unwrap()["terminal"], true);
}

#[tokio::test]
async fn another_tenants_member_cannot_subscribe_and_gets_nothing() {
    let stack = Stack::spawn().await;
    let mut app = super::app_with(&stack, 0).await;
    create_tenant(&app, "secret", None).await;
    app.arrange(
        World::new()
            .tenant("other")
            .member("mallory", "other", Role::Owner),
    )
    .await;
    let mut ws = WsClient::connect_authenticated(app.addr, &app.token("mallory")).await;
    ws.send(subscribe("p", "secret", 0)).await;
    refused(&mut ws, "p", "NOT_FOUND").await;
    // Provisioning runs now; nothing reaches the refused client, which can still ping.
    let _workers = app
        .spawn_sibling(|c| {
            c.upstreams = stack.config();
            quick_jobs(c, 2);
        })
        .await;
    settled(&app, "secret").await;
    ws.send(json!({ "type": "ping" })).await;
    match ws.next().await {
        Incoming::Json(m) => assert_eq!(m["type"], "pong", "no event before the pong: {m}"),
        other => panic!("expected pong, got {other:?}"),
    }
    // Bad input is refused the same way.
    ws.send(subscribe("neg", "other", -1)).await;
    refused(&mut ws, "neg", "BAD_USER_INPUT").await;
}
