//! Seat warnings as events: crossing 80 % and 100 % is announced once per crossing (not on
//! every create), streamed by `seatWarnings` (replayed, then live), and announced again after
//! usage fell back (a removal) and rose anew.

use serde_json::{Value, json};

use super::create::seats;
use super::lifecycle::{REMOVE, id_of, of};
use super::{CREATE, gone, input, settled, world};
use crate::provisioning::Stack;
use crate::support::tables::count;
use crate::support::ws::{Incoming, WsClient};

const WARNINGS: &str = r#"
subscription($slug: String!, $after: Int!) {
  seatWarnings(tenantSlug: $slug, afterId: $after) { id threshold used included percent }
}"#;

async fn next_warning(ws: &mut WsClient) -> Value {
    match ws.next().await {
        Incoming::Json(m) if m["type"] == "next" => {
            assert!(m["payload"].get("errors").is_none(), "{m}");
            m["payload"]["data"]["seatWarnings"].clone()
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn shape(warning: &Value) -> Value {
    json!([warning["threshold"], warning["used"], warning["percent"]])
}

#[tokio::test]
async fn seat_warnings_are_events_once_per_crossing() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    // Three members already (owner, ann, mo); ten seats.
    seats(&w, 10).await;
    let mut ws = WsClient::connect_authenticated(w.addr, &w.token("ann")).await;
    ws.send(json!({ "id": "s", "type": "subscribe",
                    "payload": { "query": WARNINGS, "variables": { "slug": "acme", "after": 0 } } }))
        .await;

    for n in 4..=10 {
        let body = w
            .allowed(
                "ann",
                CREATE,
                input("acme", &format!("m{n}@acme.example"), "MEMBER"),
                "member.create",
            )
            .await;
        let warnings = &body["data"]["createMember"]["warnings"];
        let expected = match n {
            8 => json!(["the tenant now uses 80 % of its 10 seats"]),
            10 => json!(["the tenant now uses 100 % of its 10 seats"]),
            // 9 of 10 is still 80 %: no second warning.
            _ => json!([]),
        };
        assert_eq!(warnings, &expected, "member {n}: {body}");
    }
    let first = next_warning(&mut ws).await;
    assert_eq!(shape(&first), json!([80, 8, 80]), "{first}");
    assert_eq!(first["included"], 10);
    let second = next_warning(&mut ws).await;
    assert_eq!(shape(&second), json!([100, 10, 100]), "{second}");

    // A removal brings usage back under 100 %: announced (as the 80 % level, 9 of 10).
    settled(&w, "acme", "m10@acme.example", "ACTIVE").await;
    let m10 = id_of(&w, "acme", "m10@acme.example").await;
    w.allowed("ann", REMOVE, of("acme", &m10), "member.remove")
        .await;
    gone(&w, "acme", "m10@acme.example").await;
    let down = next_warning(&mut ws).await;
    assert_eq!(shape(&down), json!([80, 9, 90]), "{down}");

    // Up again: 100 % is announced again.
    let body = w
        .allowed(
            "ann",
            CREATE,
            input("acme", "m11@acme.example", "MEMBER"),
            "member.create",
        )
        .await;
    assert_eq!(
        body["data"]["createMember"]["warnings"],
        json!(["the tenant now uses 100 % of its 10 seats"])
    );
    let again = next_warning(&mut ws).await;
    assert_eq!(shape(&again), json!([100, 10, 100]), "{again}");

    let mut conn = w.db.connect().await;
    assert_eq!(count(&mut conn, "seat_events").await, 4);
    let usage = w
        .query_with(
            "ann",
            "query($s: String!) { tenant(slug: $s) { seatUsage { used percent warning } } }",
            json!({ "s": "acme" }),
        )
        .await;
    assert_eq!(
        usage["data"]["tenant"]["seatUsage"],
        json!({ "used": 10, "percent": 100, "warning": 100 })
    );

    // Replay after the first: the other three, in order; another tenant's owner sees nothing.
    let mut replay = WsClient::connect_authenticated(w.addr, &w.token("ann")).await;
    replay
        .send(json!({ "id": "r", "type": "subscribe",
                      "payload": { "query": WARNINGS,
                                   "variables": { "slug": "acme", "after": first["id"] } } }))
        .await;
    let mut ids = Vec::new();
    for expected in [
        json!([100, 10, 100]),
        json!([80, 9, 90]),
        json!([100, 10, 100]),
    ] {
        let got = next_warning(&mut replay).await;
        assert_eq!(shape(&got), expected, "{got}");
        ids.push(got["id"].as_i64().unwrap());
    }
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
    let mut olga = WsClient::connect_authenticated(w.addr, &w.token("olga")).await;
    olga.send(json!({ "id": "o", "type": "subscribe",
                      "payload": { "query": WARNINGS, "variables": { "slug": "acme", "after": 0 } } }))
        .await;
    match olga.next().await {
        Incoming::Json(m) if m["type"] == "error" || m["type"] == "next" => {
            assert_eq!(
                m["payload"][0]["extensions"]["code"]
                    .as_str()
                    .or(m["payload"]["errors"][0]["extensions"]["code"].as_str()),
                Some("NOT_FOUND"),
                "{m}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
