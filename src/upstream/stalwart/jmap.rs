//! JMAP plumbing (RFC 8620): session discovery, the request envelope, method responses and
//! `SetError`s.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{SetErrorKind, StalwartError};
use crate::upstream::error::CallError;
use crate::upstream::transport::{Request, Response, Transport};

/// The capabilities every request declares.
const USING: [&str; 2] = ["urn:ietf:params:jmap:core", CAPABILITY];

/// Stalwart's management capability (registry objects `x:*`).
const CAPABILITY: &str = "urn:stalwart:jmap";

/// What the session tells us: where to POST and as which account.
#[derive(Debug, Clone)]
pub(super) struct Session {
    api_path: String,
    account_id: String,
    max_objects_in_get: usize,
}

/// RFC 8620's floor for `maxObjectsInGet` when a session does not say (Stalwart's default
/// is 500).
const DEFAULT_MAX_OBJECTS_IN_GET: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionWire {
    api_url: String,
    #[serde(default)]
    primary_accounts: BTreeMap<String, String>,
    #[serde(default)]
    accounts: BTreeMap<String, Value>,
    #[serde(default)]
    capabilities: serde_json::Map<String, Value>,
}

/// A JMAP client: one transport, one session (discovered once, on first use).
#[derive(Debug)]
pub(super) struct Jmap {
    transport: Transport,
    session: OnceCell<Session>,
}

/// The answers to one request, in call order.
#[derive(Debug)]
pub(super) struct Answers(Vec<(String, Value, String)>);

impl Jmap {
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            session: OnceCell::new(),
        }
    }

    async fn session(&self) -> Result<&Session, StalwartError> {
        self.session.get_or_try_init(|| self.discover()).await
    }

    /// `GET /jmap/session`, sent once (a liveness probe).
    pub async fn probe(&self) -> Result<(), StalwartError> {
        let response = self.transport.send(Request::probe("/jmap/session")).await?;
        if !response.status.is_success() {
            return Err(http_error(&response));
        }
        let wire: SessionWire = response.json()?;
        if wire.capabilities.contains_key(CAPABILITY) {
            Ok(())
        } else {
            Err(CallError::Unexpected {
                status: response.code(),
                detail: format!("the session lacks {CAPABILITY}"),
            }
            .into())
        }
    }

    /// `GET /.well-known/jmap` (a 307 to `/jmap/session`, followed).
    async fn discover(&self) -> Result<Session, StalwartError> {
        let response = self
            .transport
            .send(Request::get("/.well-known/jmap"))
            .await?;
        if !response.status.is_success() {
            return Err(http_error(&response));
        }
        let wire: SessionWire = response.json()?;
        if !wire.capabilities.contains_key(CAPABILITY) {
            return Err(CallError::Unexpected {
                status: response.code(),
                detail: format!("the session lacks {CAPABILITY}: not Stalwart 0.16?"),
            }
            .into());
        }
        let account_id = [
            CAPABILITY,
            "urn:ietf:params:jmap:core",
            "urn:ietf:params:jmap:mail",
        ]
        .iter()
        .find_map(|c| wire.primary_accounts.get(*c).cloned())
        .or_else(|| wire.accounts.keys().next().cloned())
        .ok_or_else(|| CallError::Unexpected {
            status: response.code(),
            detail: "the session lists no account".into(),
        })?;
        let max_objects_in_get = wire.capabilities["urn:ietf:params:jmap:core"]
            .get("maxObjectsInGet")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_MAX_OBJECTS_IN_GET, |n| n.clamp(1, 5_000) as usize);
        Ok(Session {
            api_path: api_path(&wire.api_url),
            account_id,
            max_objects_in_get,
        })
    }

    /// The most ids one `/get` may name (the session's `maxObjectsInGet`).
    pub async fn max_objects_in_get(&self) -> Result<usize, StalwartError> {
        Ok(self.session().await?.max_objects_in_get)
    }

    /// Sends method calls in one request; call `i` gets the id `c<i>` (for back-references)
    /// and the session's `accountId`. `retry_safe` only for requests that change nothing or
    /// set absolute values.
    pub async fn call(
        &self,
        calls: Vec<(&str, Value)>,
        retry_safe: bool,
    ) -> Result<Answers, StalwartError> {
        let session = self.session().await?;
        let method_calls: Vec<Value> = calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, mut args))| {
                args["accountId"] = json!(session.account_id);
                json!([name, args, format!("c{i}")])
            })
            .collect();
        let body = json!({ "using": USING, "methodCalls": method_calls });
        let mut request = Request::post(&session.api_path).json(&body);
        if retry_safe {
            request = request.retry_safe();
        }
        let response = self.transport.send(request).await?;
        if !response.status.is_success() {
            return Err(http_error(&response));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope {
            method_responses: Vec<(String, Value, String)>,
        }
        let envelope: Envelope = response.json()?;
        Ok(Answers(envelope.method_responses))
    }
}

impl Answers {
    /// The answer to call `index`, which must be `name` (a method error becomes
    /// [`StalwartError::Method`]).
    pub fn get(&self, index: usize, name: &str) -> Result<&Value, StalwartError> {
        let id = format!("c{index}");
        let (answered, args, _) = self
            .0
            .iter()
            .find(|(_, _, call)| *call == id)
            .ok_or_else(|| unexpected(format!("no answer to {name}")))?;
        if answered == "error" {
            return Err(StalwartError::Method {
                kind: text(args, "type"),
                description: text(args, "description"),
            });
        }
        if answered != name {
            return Err(unexpected(format!("{name} answered as {answered}")));
        }
        Ok(args)
    }
}

/// A back-reference to the ids found by call `index` (a `/query`).
pub(super) fn ids_of(index: usize, query: &str) -> Value {
    json!({ "resultOf": format!("c{index}"), "name": query, "path": "/ids" })
}

/// Decodes a `/get` answer's `list`.
pub(super) fn list<T: for<'de> Deserialize<'de>>(answer: &Value) -> Result<Vec<T>, StalwartError> {
    serde_json::from_value(answer["list"].clone())
        .map_err(|e| StalwartError::Call(CallError::decode(200, e)))
}

/// The `SetError` for `id` in a `/set` answer's `notCreated` / `notUpdated` / `notDestroyed`.
pub(super) fn set_error(answer: &Value, field: &str, id: &str) -> Option<(SetErrorKind, Value)> {
    let error = answer.get(field)?.get(id)?;
    Some((SetErrorKind::parse(&text(error, "type")), error.clone()))
}

/// A [`StalwartError::Set`] from a `SetError`.
pub(super) fn refused(what: &'static str, kind: SetErrorKind, error: &Value) -> StalwartError {
    let properties = error["properties"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    StalwartError::Set {
        what,
        kind,
        description: text(error, "description"),
        properties,
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn unexpected(detail: String) -> StalwartError {
    CallError::Unexpected {
        status: 200,
        detail,
    }
    .into()
}

/// 401 (with `WWW-Authenticate`), 429 and 5xx are shared; other errors are
/// `application/problem+json` with a JMAP error `type`.
fn http_error(response: &Response) -> StalwartError {
    if let Some(err) = response.common_error() {
        return err.into();
    }
    match response.json::<Value>() {
        Ok(problem) if problem["type"].is_string() => StalwartError::Request {
            kind: text(&problem, "type"),
        },
        _ => CallError::Unexpected {
            status: response.code(),
            detail: "not a JMAP problem document".into(),
        }
        .into(),
    }
}

/// The path (and query) of the session's `apiUrl`. Only the path is taken from it: requests
/// always go to the configured origin, so a session naming another host (an internal name
/// behind a proxy, or worse) cannot draw our credentials there.
fn api_path(api_url: &str) -> String {
    if api_url.starts_with('/') {
        return api_url.to_owned();
    }
    match reqwest::Url::parse(api_url) {
        Ok(url) => match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        },
        Err(_) => "/jmap/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_path_of_the_api_url_is_used() {
        assert_eq!(api_path("https://mail.internal:8080/jmap/"), "/jmap/");
        assert_eq!(api_path("/jmap/"), "/jmap/");
        assert_eq!(api_path("https://evil.example/x?y=1"), "/x?y=1");
    }

    #[test]
    fn method_errors_and_mismatches_are_errors() {
        let answers = Answers(vec![
            ("x:Domain/get".into(), json!({"list": []}), "c0".into()),
            (
                "error".into(),
                json!({"type": "unknownMethod", "description": "nope"}),
                "c1".into(),
            ),
        ]);
        assert!(answers.get(0, "x:Domain/get").is_ok());
        assert!(matches!(
            answers.get(0, "x:Account/get"),
            Err(StalwartError::Call(_))
        ));
        assert!(matches!(
            answers.get(1, "x:Domain/set"),
            Err(StalwartError::Method { kind, .. }) if kind == "unknownMethod"
        ));
        assert!(answers.get(2, "x:Domain/set").is_err());
    }
}
