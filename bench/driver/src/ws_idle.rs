//! The `ws-idle` scenario: many idle WebSocket connections, each initialised with its own
//! token and holding one `featureFlagsChanged` subscription, and what they cost the server
//! in resident memory.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::graph::{subject, tenant_of_user, tenant_slug};
use crate::procstat;
use crate::tokens::{DevSigner, PORTAL};

/// What the scenario measured.
#[derive(Serialize)]
pub struct WsIdle {
    pub connections: usize,
    pub failed: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_connection: f64,
    pub mib_per_1000: f64,
    pub open_seconds: f64,
}

const SUBSCRIPTION: &str =
    "subscription S($slug: String!) { featureFlagsChanged(tenantSlug: $slug) { key value } }";

/// First seeded user given a WebSocket (members, one per tenant up to 10,000 connections).
const FIRST_USER: usize = 30_001;

async fn open_one(
    addr: String,
    token: String,
    slug: String,
    hold: oneshot::Receiver<()>,
    ready: oneshot::Sender<anyhow::Result<()>>,
) {
    let result = async {
        let mut request = format!("ws://{addr}/graphql").into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
        let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
        ws.send(Message::text(init.to_string())).await?;
        wait_for(&mut ws, "connection_ack").await?;
        let subscribe = json!({ "id": "1", "type": "subscribe",
            "payload": { "query": SUBSCRIPTION, "variables": { "slug": slug } } });
        ws.send(Message::text(subscribe.to_string())).await?;
        wait_for(&mut ws, "next").await?;
        anyhow::Ok(ws)
    }
    .await;
    match result {
        Ok(mut ws) => {
            let _ = ready.send(Ok(()));
            // Stay idle (answering pings) until told to go.
            tokio::select! {
                _ = hold => {}
                _ = async { while let Some(Ok(_)) = ws.next().await {} } => {}
            }
            let _ = ws.close(None).await;
        }
        Err(e) => {
            let _ = ready.send(Err(e));
        }
    }
}

async fn wait_for<S>(ws: &mut S, kind: &str) -> anyhow::Result<()>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => anyhow::bail!("no {kind} within 30 s"),
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let v: serde_json::Value = serde_json::from_str(&text)?;
                    match v["type"].as_str() {
                        Some(t) if t == kind => return Ok(()),
                        Some("error") | Some("complete") => anyhow::bail!("got {text}"),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => anyhow::bail!("closed: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("connection ended"),
            }
        }
    }
}

/// Opens `n` subscribed connections, measures the server's RSS, closes them.
pub async fn run(
    addr: &str,
    signer: &DevSigner,
    server_pid: u32,
    n: usize,
    settle: Duration,
) -> anyhow::Result<WsIdle> {
    anyhow::ensure!(
        n <= 10_000,
        "at most 10,000 connections (one per seeded tenant)"
    );
    let rss_before = procstat::rss_kib(server_pid)?;
    let started = std::time::Instant::now();
    let gate = Arc::new(Semaphore::new(64));
    let mut holds = Vec::with_capacity(n);
    let mut readies = Vec::with_capacity(n);
    for i in 0..n {
        let user = FIRST_USER + i;
        let token = signer.sign(&subject(user), PORTAL)?;
        let slug = tenant_slug(tenant_of_user(user));
        let (hold_tx, hold_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let addr = addr.to_string();
        let permit = Arc::clone(&gate).acquire_owned().await?;
        tokio::spawn(async move {
            let (inner_tx, inner_rx) = oneshot::channel();
            let conn = tokio::spawn(open_one(addr, token, slug, hold_rx, inner_tx));
            let outcome = inner_rx
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("task ended")));
            drop(permit);
            let _ = ready_tx.send(outcome);
            let _ = conn.await;
        });
        holds.push(hold_tx);
        readies.push(ready_rx);
    }
    let mut failed = 0;
    let mut first_error = None;
    for ready in readies {
        match ready.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(_) => failed += 1,
        }
    }
    let open_seconds = started.elapsed().as_secs_f64();
    if let Some(e) = first_error {
        eprintln!("  ws-idle: {failed} connections failed; first: {e:#}");
    }
    tokio::time::sleep(settle).await;
    let rss_after = procstat::rss_kib(server_pid)?;
    for hold in holds {
        let _ = hold.send(());
    }
    let open = (n - failed).max(1) as f64;
    let delta = rss_after.saturating_sub(rss_before) as f64;
    Ok(WsIdle {
        connections: n,
        failed,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        kib_per_connection: delta / open,
        mib_per_1000: delta / open * 1000.0 / 1024.0,
        open_seconds,
    })
}
