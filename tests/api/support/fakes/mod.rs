//! Loopback fakes of the upstream systems: small axum servers with in-memory state that
//! answer in each upstream's real wire format, so the tests drive the real reqwest clients.
//!
//! Every fake shares the plumbing here: it records every call it receives (faulted ones
//! too), and injects faults on demand — answer the next N matching calls with a status,
//! delay them, or drop the connection without an answer.
//!
//! A fake may also be held to its upstream's published contract ([`contract`]): then every
//! request is matched to a spec operation and checked, every answer is checked against the
//! response schema, and any miss is a *violation*. Stripe's fake is held to documented
//! [`Rules`] instead (`stripe/contract.rs`), and Stalwart's checks each JMAP method call in
//! its handler (`stalwart/contract.rs`, reaching the [`Control`] as a request extension). Violations are kept on the [`Control`];
//! a [`Fake`] dropped with violations nobody took ([`Control::take_violations`]) fails the
//! test that made them.

#![expect(
    clippy::result_large_err,
    reason = "fake handlers return the upstream's error answer as the `Err` of a `Result`"
)]

pub mod authentik;
pub mod contract;
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
use axum::response::{IntoResponse, Response};
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

/// Builds the upstream's refusal of a request that breaks its contract: status, a message
/// naming the spec operation, and each problem as `<where>: <what>` (`body.a[0].b: …`).
pub type Refusal = fn(u16, &str, &[String]) -> Response;

/// A fake-specific step around faults (Stripe's idempotency layer sits there).
pub trait Interceptor: Send + Sync {
    /// Answers a request before faults and handlers are considered (e.g. a replay).
    fn before(&self, call: &Call) -> Option<Response>;
    /// Sees a request answered by an injected status fault.
    fn faulted(&self, call: &Call, status: u16);
}

/// Builds a fake's interceptor from its state.
pub type BuildInterceptor<S> = Box<dyn FnOnce(Arc<Mutex<S>>) -> Arc<dyn Interceptor>>;

/// A contract kept as rules rather than an OpenAPI document (Stripe's documented ones): the
/// spec operation a request is for, or the status and message it is refused with.
pub type Rules = fn(&Call) -> Result<String, (u16, String)>;

/// How a fake is held to its contract and what sits around its faults.
pub struct Options<S> {
    /// The OpenAPI contract its requests and answers must meet.
    pub contract: Option<&'static contract::Contract>,
    /// Or the rules its requests must meet.
    pub rules: Option<Rules>,
    /// How it refuses a request that breaks the contract.
    pub refusal: Option<Refusal>,
    /// Built from the fake's state once it exists.
    pub interceptor: Option<BuildInterceptor<S>>,
}

impl<S> Default for Options<S> {
    fn default() -> Self {
        Self {
            contract: None,
            rules: None,
            refusal: None,
            interceptor: None,
        }
    }
}

/// The shared recording and fault-injection state of one fake.
pub struct Control {
    calls: Mutex<Vec<Call>>,
    /// Calls being answered now, and the most there ever were at once.
    in_flight: InFlight,
    faults: Mutex<VecDeque<Fault>>,
    error_body: ErrorBody,
    contract: Option<&'static contract::Contract>,
    rules: Option<Rules>,
    refusal: Option<Refusal>,
    interceptor: Option<Arc<dyn Interceptor>>,
    violations: Mutex<Vec<String>>,
    operations: Mutex<Vec<String>>,
}

impl Control {
    /// Records a contract violation (the test fails unless it takes them).
    pub fn violate(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    /// Takes the violations recorded so far: the test has looked at them.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.violations.lock().unwrap())
    }

    /// The spec operations the requests so far were matched to, in order (validating fakes).
    pub fn operations(&self) -> Vec<String> {
        self.operations.lock().unwrap().clone()
    }

    /// Forgets the operations seen so far.
    pub fn clear_operations(&self) {
        self.operations.lock().unwrap().clear();
    }

    /// Notes the spec operation a request was matched to.
    pub fn saw_operation(&self, id: &str) {
        self.operations.lock().unwrap().push(id.to_owned());
    }

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

    /// The most calls this fake was answering at the same time (since the last
    /// [`Self::clear_calls`]).
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.max.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.in_flight
            .max
            .store(0, std::sync::atomic::Ordering::SeqCst);
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

/// A fake that saw requests or answers outside its contract fails the test that made them.
impl<S> Drop for Fake<S> {
    fn drop(&mut self) {
        let violations = self.control.take_violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the fake at {} saw {} contract violation(s):\n  {}",
                self.url,
                violations.len(),
                violations.join("\n  ")
            );
        }
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
    spawn_with(router, state, error_body, Options::default()).await
}

/// [`spawn`], held to a contract and/or with an interceptor.
pub async fn spawn_with<S: Send + 'static>(
    router: Router<Arc<Mutex<S>>>,
    state: S,
    error_body: ErrorBody,
    options: Options<S>,
) -> Fake<S> {
    let state = Arc::new(Mutex::new(state));
    let control = Arc::new(Control {
        calls: Mutex::new(Vec::new()),
        in_flight: InFlight::default(),
        faults: Mutex::new(VecDeque::new()),
        error_body,
        contract: options.contract,
        rules: options.rules,
        refusal: options.refusal,
        interceptor: options.interceptor.map(|build| build(Arc::clone(&state))),
        violations: Mutex::new(Vec::new()),
        operations: Mutex::new(Vec::new()),
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
    let _in_flight = control.in_flight.enter();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut call = Call {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: bytes.clone(),
        faulted: false,
    };
    let operation = match check_request(&control, &call) {
        Ok(operation) => operation,
        Err(refusal) => {
            control.calls.lock().unwrap().push(call);
            return refusal;
        }
    };
    if let Some(answer) = control.interceptor.as_ref().and_then(|i| i.before(&call)) {
        control.calls.lock().unwrap().push(call);
        return answer;
    }
    let fault = control.take_fault(&parts.method, parts.uri.path());
    call.faulted = matches!(fault, Some(FaultKind::Status { .. } | FaultKind::Drop));
    control.calls.lock().unwrap().push(call.clone());
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            if let Some(interceptor) = &control.interceptor {
                interceptor.faulted(&call, status);
            }
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
    // Handlers that check a contract themselves (Stalwart's method calls) reach the control.
    let mut parts = parts;
    parts.extensions.insert(Arc::clone(&control));
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match operation {
        Some(id) => check_response(&control, &call, &id, response).await,
        None => response,
    }
}

/// Matches a request to its spec operation and checks it; a violation is recorded and
/// answered with the upstream's refusal.
#[expect(clippy::result_large_err, reason = "the Err is the refusal answer")]
fn check_request(control: &Control, call: &Call) -> Result<Option<String>, Response> {
    let refuse = |status: u16, message: String, problems: &[String]| {
        control.violate(message.clone());
        match control.refusal {
            Some(refusal) => refusal(status, &message, problems),
            None => (StatusCode::from_u16(status).unwrap(), message).into_response(),
        }
    };
    if let Some(rules) = control.rules {
        return match rules(call) {
            Ok(id) => {
                control.saw_operation(&id);
                Ok(None)
            }
            Err((status, message)) => Err(refuse(status, message, &[])),
        };
    }
    let Some(contract) = control.contract else {
        return Ok(None);
    };
    let op = match contract.find(call.method.as_str(), &call.path) {
        Ok(op) => op,
        Err(why) => {
            let status = if why.contains("has only") { 405 } else { 404 };
            return Err(refuse(
                status,
                format!("{} contract: {why}", contract.system),
                &[],
            ));
        }
    };
    control.saw_operation(op.id);
    let query = call.query.as_deref().map(pairs).unwrap_or_default();
    let body = if call.body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&call.body) {
            Ok(value) => Some(value),
            Err(_) => {
                let why = format!(
                    "{} ({} {}): the body is not JSON",
                    op.id, call.method, call.path
                );
                return Err(refuse(
                    400,
                    format!("{} contract: {why}", contract.system),
                    &[],
                ));
            }
        }
    };
    let problems = contract.check_request(&op, &query, body.as_ref());
    if !problems.is_empty() {
        let message = format!(
            "{} contract: {} ({} {}): {}",
            contract.system,
            op.id,
            call.method,
            call.path,
            problems.join("; ")
        );
        return Err(refuse(400, message, &problems));
    }
    Ok(Some(op.id.to_owned()))
}

/// Checks the fake's own answer against the response schema; a miss is a violation (the
/// answer still goes out, so the test sees what the fake did).
async fn check_response(control: &Control, call: &Call, id: &str, response: Response) -> Response {
    let Some(contract) = control.contract else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(op) = contract.find(call.method.as_str(), &call.path) {
        let problems = contract.check_response(&op, parts.status.as_u16(), &bytes);
        if !problems.is_empty() {
            control.violate(format!(
                "{} contract: the fake's answer to {id} ({} {}) breaks the response schema: {}",
                contract.system,
                call.method,
                call.path,
                problems.join("; ")
            ));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Parses a query string or form body into ordered pairs.
pub fn pairs(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(text).expect("a form-encoded body")
}

/// Counts the calls a fake is answering at once.
#[derive(Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(now, SeqCst);
        InFlightGuard(self)
    }
}

struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
