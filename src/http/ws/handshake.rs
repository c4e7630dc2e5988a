//! Before the ack: waiting for `connection_init` and checking its token.
//!
//! The protocol allows `ping` (answered with `pong`), `pong` and `complete` (ignored) before
//! `connection_init`; `subscribe` closes with 4401, anything else with 4400, a missing or
//! invalid token with 4403, and no `connection_init` within the init timeout with 4408.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use serde_json::Value;

use super::guard::{
    self, CLOSE_BAD_MESSAGE, CLOSE_FORBIDDEN, CLOSE_INIT_TIMEOUT, CLOSE_UNAUTHORIZED, Inbound,
};
use super::{CLOSE_GOING_AWAY, Outbound, read_error_close};
use crate::app::AppState;
use crate::auth::VerifiedToken;

/// The token in a `connection_init` payload.
pub(super) fn token_from_payload(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
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

/// Waits for `connection_init` and verifies its token. On success returns the init payload
/// and the token; otherwise the socket has been closed.
pub(super) async fn run(
    app: &AppState,
    source: &mut SplitStream<WebSocket>,
    out: &mut Outbound,
) -> Option<(Option<Value>, Arc<VerifiedToken>)> {
    let deadline = tokio::time::sleep(app.config.websocket.init_timeout);
    tokio::pin!(deadline);
    let payload = loop {
        let message = tokio::select! {
            () = app.shutdown.cancelled() => {
                out.close(CLOSE_GOING_AWAY, "server shutting down").await;
                return None;
            }
            () = &mut deadline => {
                out.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout").await;
                return None;
            }
            message = source.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => {
                    out.close(CLOSE_BAD_MESSAGE, "Invalid message received: not UTF-8")
                        .await;
                    return None;
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(e)) => {
                if let Some((code, reason)) = read_error_close(&e) {
                    out.close(code, reason).await;
                }
                return None;
            }
            Some(Ok(Message::Close(_))) | None => return None,
        };
        match guard::parse(&text) {
            Err(why) => {
                out.close(
                    CLOSE_BAD_MESSAGE,
                    &format!("Invalid message received: {why}"),
                )
                .await;
                return None;
            }
            Ok(Inbound::ConnectionInit(payload)) => break payload,
            Ok(Inbound::Subscribe { .. }) => {
                out.close(CLOSE_UNAUTHORIZED, "Unauthorized").await;
                return None;
            }
            Ok(Inbound::Ping(_)) => {
                if !out.send(r#"{"type":"pong"}"#.to_owned()).await {
                    return None;
                }
            }
            Ok(Inbound::Pong | Inbound::Complete(_)) => {}
        }
    };
    let Some(token) = token_from_payload(payload.as_ref()) else {
        tracing::info!(reason = "no token in connection_init", "websocket refused");
        out.close(CLOSE_FORBIDDEN, "Forbidden").await;
        return None;
    };
    match app.auth.verifier.verify(&token).await {
        Ok(verified) => Some((payload, verified)),
        Err(e) => {
            tracing::info!(reason = %e, "websocket refused");
            out.close(CLOSE_FORBIDDEN, "Forbidden").await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(payload: Value) -> Option<String> {
        token_from_payload(Some(&payload))
    }

    #[test]
    fn tokens_are_read_from_the_init_payload() {
        assert_eq!(
            token(json!({"Authorization": "Bearer abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token(json!({"authorization": "bearer abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(token(json!({"token": "abc"})).as_deref(), Some("abc"));
        assert_eq!(token(json!({"Authorization": "Basic abc"})), None);
        assert_eq!(token(json!({})), None);
        assert_eq!(token_from_payload(None), None);
    }
}
