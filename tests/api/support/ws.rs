//! A minimal `graphql-transport-ws` client over a real WebSocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connected socket.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What came back when waiting for the next message.
#[derive(Debug)]
pub enum Incoming {
    /// A JSON text message.
    Json(Value),
    /// The server closed, with this frame.
    Closed(Option<CloseFrame>),
}

impl WsClient {
    /// Connects to `ws://addr/graphql` offering `protocol` (if any).
    pub async fn connect(
        addr: std::net::SocketAddr,
        protocol: Option<&str>,
    ) -> Result<Self, tungstenite::Error> {
        let mut request = format!("ws://{addr}/graphql").into_client_request()?;
        if let Some(protocol) = protocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { socket })
    }

    /// Connects and completes `connection_init` with `token`; panics unless acknowledged.
    pub async fn connect_authenticated(addr: std::net::SocketAddr, token: &str) -> Self {
        let mut ws = Self::connect(addr, Some("graphql-transport-ws"))
            .await
            .expect("connect");
        ws.send(serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
            .await;
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "connection_ack" => ws,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Sends a text message as is.
    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::binary(bytes))
            .await
            .expect("send");
    }

    /// The underlying socket, for tests that drive it by hand.
    pub fn into_socket(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.socket
    }

    /// The next JSON message or the close frame, within 10 s.
    pub async fn next(&mut self) -> Incoming {
        let wait = async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return Incoming::Json(
                            serde_json::from_str(text.as_str()).expect("JSON message"),
                        );
                    }
                    Some(Ok(Message::Close(frame))) => return Incoming::Closed(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Incoming::Closed(None),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("a message within 10 s")
    }
}
