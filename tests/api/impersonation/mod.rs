//! Impersonation (issue 23): the token exchange (`POST /oauth/token`), the session's life
//! (HTTP and WebSocket), the deny-list, and attribution.

mod deny;
mod exchange;
mod session;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{Role, World};

/// `acme` with owner olive, admin bob, member carl; `other` with admin eve; operator root.
async fn world() -> World {
    World::new()
        .tenant("acme")
        .tenant("other")
        .member("olive", "acme", Role::Owner)
        .member("bob", "acme", Role::Admin)
        .member("carl", "acme", Role::Member)
        .member("eve", "other", Role::Admin)
        .operator("root")
        .spawn()
        .await
}

const START: &str = r#"
mutation($input: StartImpersonationInput!) {
  startImpersonation(input: $input) {
    token tokenType expiresAt
    session { id userEmail operatorEmail reason active }
  }
}"#;

const END: &str = r#"
mutation($session: ID!) {
  endImpersonation(input: { session: $session }) { session { id active endedAt } }
}"#;

const ME: &str = r#"{ me { user { email } audience operator
  impersonation { sessionId operator { email } reason expiresAt } } }"#;

/// The `User` global id of `name`.
fn user_id(w: &World, name: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("User:{}", w.id(name)))
}

/// Starts a session as root for `name` through GraphQL: (token, session id).
pub(crate) async fn start_as_root(w: &World, name: &str, extra: Value) -> (String, String) {
    let mut input = json!({ "user": user_id(w, name), "reason": "ticket 42: cannot see invoices" });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        input[k] = v;
    }
    let body = w.query_with("root", START, json!({ "input": input })).await;
    let started = &body["data"]["startImpersonation"];
    assert!(started.is_object(), "{body}");
    (
        started["token"].as_str().unwrap().to_owned(),
        started["session"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The JSON payload of a JWT (unverified, for assertions).
fn jwt_part(token: &str, part: usize) -> Value {
    let raw = token.split('.').nth(part).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
}

/// The code of the first error, or `None`.
fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}
