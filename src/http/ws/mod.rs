//! GraphQL over WebSocket (`graphql-transport-ws`) on `GET /graphql`.
//!
//! **Wrapped, not replaced.** async-graphql's protocol machine
//! (`async_graphql::http::WebSocket`) still executes operations, acknowledges the init and
//! answers `ping`. Around it:
//!
//! - [`handshake`] reads everything before the ack itself: `connection_init` must carry a
//!   bearer token (`{"Authorization": "Bearer …"}` or `{"token": "…"}`), else 4403;
//!   `subscribe` before it is 4401; silence past `WS_INIT_TIMEOUT_MS` is 4408.
//! - [`guard`] checks every later client message before async-graphql sees it and tracks
//!   the ids of running operations: a second init is 4429, a running id reused is 4409, any
//!   malformed message is 4400 (async-graphql alone would say 1002, and would silently
//!   replace a running operation). The table in [`guard`] lists each difference.
//! - This module owns the socket: the caps below, the token's expiry (4403), shutdown
//!   (1001) and slow consumers (1008).
//!
//! Wrapping keeps the execution, context data and operation metrics on the one code path
//! HTTP uses; only the message layer is ours. A replacement would have to re-implement
//! stream multiplexing for the same result.
//!
//! **Memory per connection is bounded:** a client message is at most 64 KiB (larger: 1009);
//! at most [`guard::MAX_OPERATIONS`] operations run at once (more: an `error` for the new
//! id); one outgoing message is at most [`MAX_OUTBOUND_BYTES`] (a larger result is replaced
//! by an error); the server takes the next message from async-graphql only once the last
//! one was flushed to the socket, so tungstenite's write buffer holds at most one message on
//! top of [`WRITE_BUFFER_BYTES`] (and is capped there); and a client that does not read
//! what it is sent within `WS_SEND_TIMEOUT_MS` is closed with 1008, dropping its operations.
//! Nothing is read from a client while the server waits for it to read.

mod detached;
mod guard;
mod handshake;
mod impersonation_watch;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::Data;
use async_graphql::http::{
    ClientMessage, WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt, future, stream};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::app::AppState;
use crate::auth::AuthContext;
use crate::error::ErrorCode;
use crate::graphql::loaders::Loaders;
use crate::graphql::viewer::ClientIp;
use crate::http::reply;
use crate::metrics::Metrics;
use crate::request_id::RequestId;
use guard::{CLOSE_BAD_MESSAGE, CLOSE_FORBIDDEN, Operations, Step};

/// The only subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Largest accepted client message (and frame).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Read buffer of a connection. tungstenite zero-fills its whole read buffer before each
/// read, so every byte of it is resident for the life of the connection: the default
/// (128 KiB) made an idle subscribed socket cost ~145 KiB. Larger messages still arrive (the
/// buffer grows for a frame that needs it).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Largest message the server sends; a larger operation result is replaced by an error.
pub const MAX_OUTBOUND_BYTES: usize = 4 * 1024 * 1024;
/// Outgoing bytes tungstenite gathers before writing to the socket.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024;
/// Hard cap of tungstenite's write buffer: the gathered bytes plus one message and a close.
const MAX_WRITE_BUFFER_BYTES: usize = WRITE_BUFFER_BYTES + MAX_OUTBOUND_BYTES + 1024;
/// Longest wait for a close frame to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Close code sent to every client when the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a client that does not read what it is sent within the send timeout.
pub const CLOSE_SLOW_CONSUMER: u16 = 1008;
/// Close code for a client message over [`MAX_MESSAGE_BYTES`].
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Accepts the upgrade if the client offers `graphql-transport-ws`.
pub fn upgrade(
    app: AppState,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    request_id: RequestId,
    client_ip: Option<ClientIp>,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "WebSocket clients must offer the `graphql-transport-ws` subprotocol",
        );
    }
    let span = tracing::Span::current();
    let tracker = app.ws_tasks.clone();
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            tracker.track_future(serve(app, socket, request_id, client_ip).instrument(span))
        })
}

/// The close code for an error reading from the client, if a close frame is still useful.
pub(super) fn read_error_close(error: &axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::Error;
    // axum's error wraps tungstenite's as its source.
    match std::error::Error::source(error).and_then(|e| e.downcast_ref::<Error>()) {
        Some(Error::Capacity(_)) => Some((CLOSE_TOO_BIG, "Message too big")),
        Some(Error::Protocol(_) | Error::Utf8(_)) => Some((1002, "Protocol error")),
        _ => None,
    }
}

/// The server's half of the socket: every send is bounded by the send timeout.
pub(super) struct Outbound {
    sink: SplitSink<WebSocket, Message>,
    send_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Outbound {
    /// Sends one text message; `false` when the socket is gone or was just closed because
    /// the client did not take the message in time (1008).
    pub(super) async fn send(&mut self, text: String) -> bool {
        let sent = tokio::time::timeout(
            self.send_timeout,
            self.sink.send(Message::Text(text.into())),
        )
        .await;
        match sent {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.send_timeout.as_millis() as u64,
                    "websocket client does not read; closing it"
                );
                self.close(CLOSE_SLOW_CONSUMER, "Slow consumer").await;
                false
            }
        }
    }

    /// Sends a close frame (best effort, bounded) and counts it.
    pub(super) async fn close(&mut self, code: u16, reason: &str) {
        self.metrics.websocket.record_close(code);
        // A close reason is at most 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let frame = CloseFrame {
            code,
            reason: reason[..end].into(),
        };
        let bound = self.send_timeout.min(CLOSE_TIMEOUT);
        let sink = &mut self.sink;
        let _ = tokio::time::timeout(bound, async {
            let _ = sink.send(Message::Close(Some(frame))).await;
            let _ = sink.close().await;
        })
        .await;
    }

    /// Ends the socket after the client closed it.
    async fn finish(&mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.sink.close()).await;
    }
}

/// What the message layer and the serve loop share (one task: the lock is never contended).
struct Shared {
    operations: Operations,
    /// Messages for the client that async-graphql does not know about (at most one: no
    /// client message is read while one waits).
    replies: VecDeque<String>,
    /// Why the client's messages ended, if the server must close the socket for it.
    end: Option<(u16, String)>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The client's messages after the handshake, as async-graphql's messages: each one checked
/// by [`guard`] first.
fn inbound(
    mut source: SplitStream<WebSocket>,
    init: Option<serde_json::Value>,
    shared: Arc<Mutex<Shared>>,
    wake: Arc<Notify>,
) -> impl Stream<Item = serde_json::Result<ClientMessage>> + Send + 'static {
    let init = ClientMessage::ConnectionInit { payload: init };
    let checked = stream::poll_fn(move |cx| {
        loop {
            if !lock(&shared).replies.is_empty() {
                // Read nothing more until the reply is out; the serve loop is woken for it.
                return Poll::Pending;
            }
            let text = match ready!(source.poll_next_unpin(cx)) {
                Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => text,
                    Err(_) => {
                        lock(&shared).end = Some((
                            CLOSE_BAD_MESSAGE,
                            "Invalid message received: not UTF-8".into(),
                        ));
                        return Poll::Ready(None);
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(None),
                Some(Err(e)) => {
                    lock(&shared).end =
                        read_error_close(&e).map(|(code, reason)| (code, reason.to_owned()));
                    return Poll::Ready(None);
                }
            };
            let mut state = lock(&shared);
            match state.operations.inbound(&text) {
                Step::Forward(message) => return Poll::Ready(Some(Ok(message))),
                Step::Skip => continue,
                Step::Reply(reply) => {
                    state.replies.push_back(reply);
                    wake.notify_one();
                    return Poll::Pending;
                }
                Step::Close(code, reason) => {
                    state.end = Some((code, reason));
                    return Poll::Ready(None);
                }
            }
        }
    });
    stream::once(future::ready(Ok(init))).chain(checked)
}

/// Removes a connection from the gauge when its task ends, however it ends.
struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.websocket.connection_closed();
    }
}

async fn serve(
    app: AppState,
    socket: WebSocket,
    request_id: RequestId,
    client_ip: Option<ClientIp>,
) {
    app.metrics.websocket.connection_opened();
    let _open = OpenConnection(app.metrics.clone());
    let (sink, mut source) = socket.split();
    let mut out = Outbound {
        sink,
        send_timeout: app.config.websocket.send_timeout,
        metrics: app.metrics.clone(),
    };
    // The handshake and the impersonation check run once; boxed, their state does not size
    // the connection's task for its whole life.
    let Some((init, token)) = Box::pin(handshake::run(&app, &mut source, &mut out)).await else {
        return;
    };
    // An impersonation token ends exactly at its session's expiry (no leeway), and earlier
    // when the session is ended or its operator loses `platform_admin`.
    let session_closed = match token.impersonation {
        None => None,
        Some(session) => match Box::pin(impersonation_watch::start(&app, &token, session)).await {
            Some(watch) => Some(watch),
            None => {
                out.close(CLOSE_FORBIDDEN, "Forbidden: impersonation ended")
                    .await;
                return;
            }
        },
    };
    let expires_in = {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let leeway = if token.impersonation.is_some() {
            0
        } else {
            app.config.auth.leeway.as_secs()
        };
        let until = token.claims.exp + leeway;
        Duration::from_secs(until.saturating_sub(now))
    };
    let shared = Arc::new(Mutex::new(Shared {
        operations: Operations::new(app.metrics.clone()),
        replies: VecDeque::new(),
        end: None,
    }));
    let wake = Arc::new(Notify::new());
    let input = inbound(source, init, shared.clone(), wake.clone());
    let ip = client_ip.as_ref().and_then(|ip| ip.0.parse().ok());
    let auth = Arc::new(AuthContext::verified(token).with_client_ip(ip));
    // Loaders only batch (no cache); streamed operations get their own (see `detached`),
    // this set serves what runs outside them.
    let loaders = Loaders::new(app.pool.clone());
    let mut protocol = GraphqlWebSocket::from_message_stream(
        detached::Detached::new(app.schema.clone(), app.pool.clone()),
        input,
        WebSocketProtocols::GraphQLWS,
    )
    .on_connection_init(move |_payload| async move {
        let mut data = Data::default();
        data.insert(request_id);
        data.insert(auth);
        data.insert(loaders);
        if let Some(ip) = client_ip {
            data.insert(ip);
        }
        Ok(data)
    });
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    tracing::debug!("websocket connected");
    loop {
        let reply = lock(&shared).replies.pop_front();
        if let Some(reply) = reply {
            if !out.send(reply).await {
                break;
            }
            continue;
        }
        tokio::select! {
            () = app.shutdown.cancelled() => {
                out.close(CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
            () = &mut expiry => {
                tracing::info!("websocket token expired");
                out.close(CLOSE_FORBIDDEN, "Forbidden: token expired").await;
                break;
            }
            () = impersonation_watch::closed(session_closed.as_ref()) => {
                tracing::info!("websocket impersonation session ended");
                out.close(CLOSE_FORBIDDEN, "Forbidden: impersonation ended").await;
                break;
            }
            () = wake.notified() => {}
            next = protocol.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if !lock(&shared).operations.outbound(&text) {
                        continue;
                    }
                    let text = if text.len() > MAX_OUTBOUND_BYTES {
                        tracing::warn!(bytes = text.len(), "websocket result too large; replaced by an error");
                        match guard::replace_oversize(&text, MAX_OUTBOUND_BYTES) {
                            Some(text) => text,
                            None => {
                                out.close(CLOSE_TOO_BIG, "Message too big").await;
                                break;
                            }
                        }
                    } else {
                        text
                    };
                    if !out.send(text).await {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    out.close(code, &reason).await;
                    break;
                }
                None => {
                    let end = lock(&shared).end.take();
                    match end {
                        Some((code, reason)) => out.close(code, &reason).await,
                        None => out.finish().await,
                    }
                    break;
                }
            },
        }
    }
    tracing::debug!("websocket closed");
}
