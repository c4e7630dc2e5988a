//! GraphQL over WebSocket (`graphql-transport-ws`) on `GET /graphql`.
//!
//! The protocol state machine is async-graphql's (`async_graphql::http::WebSocket`); this
//! module owns the socket around it, so the server decides how connections end: on
//! shutdown every socket is closed with 1001 ("going away") and the server waits for the
//! close frames to be sent.

use async_graphql::Data;
use async_graphql::http::{WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt, future};
use tracing::Instrument;

use crate::app::AppState;
use crate::error::ErrorCode;
use crate::http::reply;
use crate::request_id::RequestId;

/// The only subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// Largest accepted client message.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Close code sent to every client when the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Accepts the upgrade if the client offers `graphql-transport-ws`.
pub fn upgrade(
    app: AppState,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    request_id: RequestId,
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
        .on_upgrade(move |socket| {
            tracker.track_future(serve(app, socket, request_id).instrument(span))
        })
}

async fn serve(app: AppState, socket: WebSocket, request_id: RequestId) {
    let (mut sink, source) = socket.split();
    let input = source
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
    let connection_request_id = request_id.clone();
    let mut protocol =
        GraphqlWebSocket::new(app.schema.clone(), input, WebSocketProtocols::GraphQLWS)
            .on_connection_init(move |_payload| async move {
                let mut data = Data::default();
                data.insert(connection_request_id);
                Ok(data)
            });
    tracing::debug!("websocket connected");
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => {
                let frame = CloseFrame { code: CLOSE_GOING_AWAY, reason: "server shutting down".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
            next = protocol.next() => match next {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                None => break,
            },
        }
    }
    let _ = sink.close().await;
    tracing::debug!("websocket closed");
}
