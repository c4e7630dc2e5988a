//! GraphQL over WebSocket (`graphql-transport-ws`) on `GET /graphql`.
//!
//! The server reads the first message itself: it must be `connection_init` carrying a
//! bearer token in its payload (`{"Authorization": "Bearer …"}`, or `{"token": "…"}`).
//! A missing or invalid token closes with 4403, `subscribe` before init with 4401, silence
//! past the init timeout with 4408. Then async-graphql's protocol state machine takes over
//! with the verified token attached; the socket is closed with 4403 when the token expires
//! (its `exp` plus the leeway), and with 1001 ("going away") when the server shuts down.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::Data;
use async_graphql::http::{WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt, future, stream};
use tracing::Instrument;

use crate::app::AppState;
use crate::auth::{AuthContext, VerifiedToken};
use crate::error::ErrorCode;
use crate::graphql::loaders::Loaders;
use crate::graphql::viewer::ClientIp;
use crate::http::reply;
use crate::request_id::RequestId;

/// The only subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Largest accepted client message.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Read buffer of a connection. tungstenite zero-fills its whole read buffer before each
/// read, so every byte of it is resident for the life of the connection: the default
/// (128 KiB) made an idle subscribed socket cost ~145 KiB. Larger messages still arrive (the
/// buffer grows for a frame that needs it).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code sent to every client when the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close codes of the protocol.
const CLOSE_BAD_MESSAGE: u16 = 4400;
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;

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
        .on_upgrade(move |socket| {
            tracker.track_future(serve(app, socket, request_id, client_ip).instrument(span))
        })
}

type Sink = SplitSink<WebSocket, Message>;

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
    let _ = sink.close().await;
}

/// The token in a `connection_init` payload.
fn token_from_payload(payload: &serde_json::Value) -> Option<String> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k)?.as_str());
    if let Some(value) = header {
        let (scheme, token) = value.trim().split_once(' ')?;
        return (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .then(|| token.trim().to_owned());
    }
    payload
        .get("token")?
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Reads the first message; on success returns it (to replay into the protocol) and the
/// verified token.
async fn handshake(
    app: &AppState,
    source: &mut futures_util::stream::SplitStream<WebSocket>,
    sink: &mut Sink,
) -> Option<(String, Arc<VerifiedToken>)> {
    let first = tokio::select! {
        () = app.shutdown.cancelled() => {
            close(sink, CLOSE_GOING_AWAY, "server shutting down").await;
            return None;
        }
        first = tokio::time::timeout(INIT_TIMEOUT, source.next()) => first,
    };
    let text = match first {
        Err(_) => {
            close(
                sink,
                CLOSE_INIT_TIMEOUT,
                "Connection initialisation timeout",
            )
            .await;
            return None;
        }
        Ok(Some(Ok(Message::Text(text)))) => text.as_str().to_owned(),
        Ok(Some(Ok(Message::Binary(bytes)))) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(_) => return None,
    };
    let message: serde_json::Value = match serde_json::from_str(&text) {
        Ok(message) => message,
        Err(_) => {
            close(sink, CLOSE_BAD_MESSAGE, "Invalid message received").await;
            return None;
        }
    };
    match message.get("type").and_then(|t| t.as_str()) {
        Some("connection_init") => {}
        Some("subscribe") => {
            close(sink, CLOSE_UNAUTHORIZED, "Unauthorized").await;
            return None;
        }
        _ => {
            close(sink, CLOSE_BAD_MESSAGE, "Expected connection_init").await;
            return None;
        }
    }
    let payload = message
        .get("payload")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let Some(token) = token_from_payload(&payload) else {
        tracing::info!(reason = "no token in connection_init", "websocket refused");
        close(sink, CLOSE_FORBIDDEN, "Forbidden").await;
        return None;
    };
    match app.auth.verifier.verify(&token).await {
        Ok(verified) => Some((text, Arc::new(verified))),
        Err(e) => {
            tracing::info!(reason = %e, "websocket refused");
            close(sink, CLOSE_FORBIDDEN, "Forbidden").await;
            None
        }
    }
}

async fn serve(
    app: AppState,
    socket: WebSocket,
    request_id: RequestId,
    client_ip: Option<ClientIp>,
) {
    let (mut sink, mut source) = socket.split();
    let Some((init, token)) = handshake(&app, &mut source, &mut sink).await else {
        return;
    };
    let expires_in = {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let until = token.claims.exp + app.config.auth.leeway.as_secs();
        Duration::from_secs(until.saturating_sub(now))
    };
    let rest = source
        .take_while(|message| {
            future::ready(matches!(message, Ok(m) if !matches!(m, Message::Close(_))))
        })
        .filter_map(|message| {
            future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let input = stream::once(future::ready(init.into_bytes())).chain(rest);
    let auth = Arc::new(AuthContext::verified(token));
    // Loaders only batch (no cache), so one set per connection serves every operation.
    let loaders = Loaders::new(app.pool.clone());
    let mut protocol =
        GraphqlWebSocket::new(app.schema.clone(), input, WebSocketProtocols::GraphQLWS)
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
        tokio::select! {
            () = app.shutdown.cancelled() => {
                close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
            () = &mut expiry => {
                tracing::info!("websocket token expired");
                close(&mut sink, CLOSE_FORBIDDEN, "Forbidden: token expired").await;
                break;
            }
            next = protocol.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    close(&mut sink, code, &reason).await;
                    break;
                }
                None => {
                    let _ = sink.close().await;
                    break;
                }
            },
        }
    }
    tracing::debug!("websocket closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_read_from_the_init_payload() {
        assert_eq!(
            token_from_payload(&json!({"Authorization": "Bearer abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_payload(&json!({"authorization": "bearer abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_payload(&json!({"token": "abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_payload(&json!({"Authorization": "Basic abc"})),
            None
        );
        assert_eq!(token_from_payload(&json!({})), None);
        assert_eq!(token_from_payload(&json!(null)), None);
    }
}
