//! The provisioning feed's fan-out: a burst of events reaches many subscribers of one
//! replica with one read of the event table per burst of notifications, never one per
//! subscriber, and each followed tenant has one channel in the process, dropped with its
//! last subscriber.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use platform_api::events::feed::ProvisioningFeed;
use serde_json::{Value, json};

use super::jobs::{arrange, assert_exactly_once, release, until_done};
use crate::support::World;
use crate::support::ws::{Incoming, WsClient};

const PROGRESS: &str = r#"
subscription($slug: String!) {
  provisioningProgress(tenantSlug: $slug, afterSeq: 3) { seq terminal }
}"#;

/// The tenants' channels in `api`'s provisioning feed.
fn keys_followed(api: &World) -> usize {
    api.state
        .schema
        .data::<ProvisioningFeed>()
        .expect("the provisioning feed")
        .keys_followed()
}

/// Every `next` of `ws`'s streams until `streams` of them completed, by operation id.
async fn collect(ws: &mut WsClient, streams: usize) -> BTreeMap<String, Vec<i64>> {
    let mut seqs: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut complete = 0;
    while complete < streams {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                let event: &Value = &m["payload"]["data"]["provisioningProgress"];
                seqs.entry(m["id"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(event["seq"].as_i64().unwrap());
            }
            Incoming::Json(m) if m["type"] == "complete" => complete += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    seqs
}

#[tokio::test]
async fn a_burst_reaches_every_subscriber_with_one_read_per_burst_not_per_subscriber() {
    let api = World::new().operator("root").spawn().await;
    let (tenants, connections) = (3, 10);
    arrange(&api, "fan", tenants).await;
    let mut sockets = Vec::new();
    for _ in 0..connections {
        let mut ws = WsClient::connect_authenticated(api.addr, &api.token("root")).await;
        for n in 1..=tenants {
            let slug = format!("fan-{n}");
            ws.send(json!({ "id": slug, "type": "subscribe",
                            "payload": { "query": PROGRESS, "variables": { "slug": slug } } }))
                .await;
        }
        sockets.push(ws);
    }
    // Each stream replays the fourth `queued` event first: once every stream sent it, every
    // subscription has done its own reads.
    for ws in &mut sockets {
        for _ in 0..tenants {
            match ws.next().await {
                Incoming::Json(m) if m["type"] == "next" => {
                    assert_eq!(
                        m["payload"]["data"]["provisioningProgress"]["seq"], 4,
                        "{m}"
                    );
                }
                other => panic!("expected the replayed event, got {other:?}"),
            }
        }
    }
    assert_eq!(
        keys_followed(&api),
        tenants,
        "one channel per followed tenant, however many subscribers"
    );
    let workers = api
        .spawn_sibling(|c| {
            c.jobs.workers = 2;
            c.jobs.poll_interval = Duration::from_millis(200);
        })
        .await;
    let before = api.statements();
    release(&api, "fan").await;
    let mut streams = Vec::new();
    for ws in &mut sockets {
        streams.push(collect(ws, tenants).await);
    }
    let reads = api.statements() - before;
    for seen in &streams {
        assert_eq!(seen.len(), tenants);
        for (slug, seqs) in seen {
            assert_eq!(
                seqs,
                &(5..=13).collect::<Vec<_>>(),
                "{slug}: whole run, in order"
            );
        }
    }
    // Nine events per tenant, each NOTIFYed by the worker replica: the API replica reads
    // each burst of notifications once, whatever the number of subscribers (a re-read per
    // subscriber would be at least one per stream).
    let (events, subscribers) = (9 * tenants as u64, (connections * tenants) as u64);
    eprintln!("{reads} reads for {events} events to {subscribers} subscribers");
    assert!(
        (1..=events).contains(&reads),
        "{reads} statements on the API replica for {events} events to {subscribers} subscribers"
    );
    assert!(reads < subscribers);
    until_done(&api, "fan", 4 * tenants as i64).await;
    assert_exactly_once(&api, "fan", tenants).await;
    drop(workers);
    // Every stream completed: the tenants' channels went with their subscribers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while keys_followed(&api) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} channels left",
            keys_followed(&api)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_tenants_channel_stays_while_one_subscriber_is_left_and_goes_with_it() {
    let api = World::new().operator("root").spawn().await;
    arrange(&api, "keep", 1).await;
    let subscribe = |id: &str| {
        json!({ "id": id, "type": "subscribe",
                "payload": { "query": PROGRESS, "variables": { "slug": "keep-1" } } })
    };
    let mut first = WsClient::connect_authenticated(api.addr, &api.token("root")).await;
    let mut second = WsClient::connect_authenticated(api.addr, &api.token("root")).await;
    for ws in [&mut first, &mut second] {
        ws.send(subscribe("k")).await;
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {}
            other => panic!("expected the replayed event, got {other:?}"),
        }
    }
    assert_eq!(keys_followed(&api), 1);
    // One subscriber leaves (`complete` from the client): the other still has the channel.
    first.send(json!({ "id": "k", "type": "complete" })).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        keys_followed(&api),
        1,
        "the second subscriber still follows"
    );
    // Live events still reach it.
    let workers = api
        .spawn_sibling(|c| {
            c.jobs.workers = 1;
            c.jobs.poll_interval = Duration::from_millis(200);
        })
        .await;
    release(&api, "keep").await;
    let seen = collect(&mut second, 1).await;
    assert_eq!(seen["k"], (5..=13).collect::<Vec<_>>());
    drop(workers);
    let deadline = Instant::now() + Duration::from_secs(5);
    while keys_followed(&api) > 0 {
        assert!(
            Instant::now() < deadline,
            "the channel outlived its last subscriber"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
