//! Loopback fakes of the upstream systems: small axum servers with in-memory state that
//! answer in each upstream's real wire format, so the tests drive the real reqwest clients.
//!
//! Every fake shares the plumbing here: it records every call it receives (faulted ones
//! too), and injects faults on demand — answer the next N matching calls with a status,
//! delay them, or drop the connection without an answer.

#![expect(
    clippy::result_large_err,
    reason = "fake handlers return the upstream's error answer as the `Err` of a `Result`"
)]

pub mod authentik;
pub mod ocis;
pub mod stalwart;
pub mod stripe;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// Whether an injected fault answered it instead of the fake.
    pub faulted: bool,
}

impl Call {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What an injected fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status (and the fake's error body), optionally with `Retry-After`.
    Status {
        /// The status.
        status: u16,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
}

#[derive(Debug, Clone)]
struct Fault {
    kind: FaultKind,
    remaining: usize,
    method: Option<Method>,
    path_prefix: Option<String>,
}

/// Builds the body of an injected error status in the upstream's own error format.
pub type ErrorBody = fn(u16) -> Response;

/// The shared recording and fault-injection state of one fake.
pub struct Control {
    calls: Mutex<Vec<Call>>,
    faults: Mutex<VecDeque<Fault>>,
    error_body: ErrorBody,
}

impl Control {
    /// Every call received so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Calls with this method whose path is exactly `path`.
    pub fn calls_to(&self, method: Method, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path == path)
            .collect()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    /// Cancels every pending fault: the fake answers normally from now on.
    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Faults the next `times` calls (any method and path).
    pub fn fail_next(&self, times: usize, kind: FaultKind) {
        self.push(times, kind, None, None);
    }

    /// Faults the next `times` calls with this method and a path starting with `prefix`.
    pub fn fail_next_on(&self, times: usize, kind: FaultKind, method: Method, prefix: &str) {
        self.push(times, kind, Some(method), Some(prefix.to_owned()));
    }

    /// Answers the next `times` calls with `status`.
    pub fn fail_status(&self, times: usize, status: u16) {
        self.fail_next(
            times,
            FaultKind::Status {
                status,
                retry_after: None,
            },
        );
    }

    /// Delays every call from now on.
    pub fn delay_all(&self, delay: Duration) {
        self.fail_next(usize::MAX, FaultKind::Delay(delay));
    }

    fn push(&self, times: usize, kind: FaultKind, method: Option<Method>, prefix: Option<String>) {
        self.faults.lock().unwrap().push_back(Fault {
            kind,
            remaining: times,
            method,
            path_prefix: prefix,
        });
    }

    fn take_fault(&self, method: &Method, path: &str) -> Option<FaultKind> {
        let mut faults = self.faults.lock().unwrap();
        let index = faults.iter().position(|f| {
            f.remaining > 0
                && f.method.as_ref().is_none_or(|m| m == method)
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let fault = &mut faults[index];
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            faults.remove(index);
        }
        Some(kind)
    }
}

/// A running fake: its base URL, its control handle and its state.
pub struct Fake<S> {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Recording and faults.
    pub control: Arc<Control>,
    /// The fake's in-memory state.
    pub state: Arc<Mutex<S>>,
}

impl<S> std::ops::Deref for Fake<S> {
    type Target = Control;
    fn deref(&self) -> &Control {
        &self.control
    }
}

impl<S> Fake<S> {
    /// Locks the state for inspection or seeding.
    pub fn state(&self) -> std::sync::MutexGuard<'_, S> {
        self.state.lock().unwrap()
    }
}

/// Per-connection switch: cancelling it closes that connection at once.
#[derive(Clone)]
struct ConnectionKill(CancellationToken);

/// Serves `router` (whose handlers see `state`) on a loopback port, behind the recording and
/// fault layer, on a hand-rolled accept loop so that a fault can drop one connection.
pub async fn spawn<S: Send + 'static>(
    router: Router<Arc<Mutex<S>>>,
    state: S,
    error_body: ErrorBody,
) -> Fake<S> {
    let state = Arc::new(Mutex::new(state));
    let control = Arc::new(Control {
        calls: Mutex::new(Vec::new()),
        faults: Mutex::new(VecDeque::new()),
        error_body,
    });
    let app = router
        .with_state(Arc::clone(&state))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&control),
            record_and_fault,
        ));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let app = app.clone();
            tokio::spawn(async move {
                let kill = CancellationToken::new();
                let handle = ConnectionKill(kill.clone());
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let mut request = request.map(Body::new);
                    request.extensions_mut().insert(handle.clone());
                    let app = app.clone();
                    async move {
                        let Ok(response) = app.oneshot(request).await;
                        Ok::<_, Infallible>(response)
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    () = kill.cancelled() => {}
                }
            });
        }
    });
    Fake {
        url,
        control,
        state,
    }
}

async fn record_and_fault(
    State(control): State<Arc<Control>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let fault = control.take_fault(&parts.method, parts.uri.path());
    let faulted = matches!(fault, Some(FaultKind::Status { .. } | FaultKind::Drop));
    control.calls.lock().unwrap().push(Call {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: bytes.clone(),
        faulted,
    });
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let mut response = (control.error_body)(status);
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", secs.to_string().parse().unwrap());
            }
            return response;
        }
        Some(FaultKind::Drop) => {
            if let Some(kill) = parts.extensions.get::<ConnectionKill>() {
                kill.0.cancel();
            }
            std::future::pending::<()>().await;
            unreachable!("the connection is gone");
        }
        Some(FaultKind::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Parses a query string or form body into ordered pairs.
pub fn pairs(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(text).expect("a form-encoded body")
}
