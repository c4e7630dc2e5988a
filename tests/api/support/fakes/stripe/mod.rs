//! A Stripe API v1 fake: bearer key check, form bodies in bracket notation with unknown
//! parameters refused (`parameter_unknown`, as Stripe does), the error envelope, list
//! pagination (newest first, `starting_after`), and idempotent replay of POSTs by
//! `Idempotency-Key` (same key + other parameters → `idempotency_error`).
//!
//! Every request is held to Stripe's documented rules in the contract table (`contract.rs`):
//! a known operation, Bearer or Basic auth, form-encoded bodies, list limits, key lengths; a
//! request outside them is a violation that fails the test.
//!
//! Sources: docs.stripe.com/api (errors, idempotent_requests, pagination, customers,
//! setup_intents, payment_methods, invoices), restated in `../shared/upstreams.md` §4.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{Fake, pairs};

pub mod contract;
mod handlers;
mod subscriptions;

use handlers::*;
use subscriptions::*;

/// The publishable key tests configure (Stripe never sees it on the server side).
pub const PUBLISHABLE_KEY: &str = "pk_test_fake_TYooMQauvdEDq54NiTphI7jx";

/// The key the fake accepts.
pub const SECRET_KEY: &str = "sk_test_fake_4eC39HqLyjWDarjtT1zdp7dc";

/// The fake's in-memory Stripe account.
#[derive(Default)]
pub struct StripeState {
    /// Customers by id (deleted ones stay, marked `deleted`).
    pub customers: BTreeMap<String, Value>,
    /// SetupIntents by id.
    pub setup_intents: BTreeMap<String, Value>,
    /// Payment methods, oldest first.
    pub payment_methods: Vec<Value>,
    /// Invoices, oldest first.
    pub invoices: Vec<Value>,
    /// Prices (the account's catalogue) by id.
    pub prices: BTreeMap<String, Value>,
    /// Subscriptions by id.
    pub subscriptions: BTreeMap<String, Value>,
    /// Subscription ids, once per item change Stripe prorated.
    pub prorations: Vec<String>,
    idempotency: HashMap<String, (String, u16, Value)>,
    /// The next N creations execute, then answer 500 (saved and replayed like any answer).
    pub fail_after_executing: usize,
    next_id: u64,
    clock: i64,
}

impl StripeState {
    pub(super) fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:06}", self.next_id)
    }

    pub(super) fn tick(&mut self) -> i64 {
        self.clock += 1;
        1_700_000_000 + self.clock
    }

    /// Whether the customer exists and is not deleted.
    pub fn is_live(&self, id: &str) -> bool {
        self.customers
            .get(id)
            .is_some_and(|c| c.get("deleted").is_none())
    }

    /// Live (not deleted) customers.
    pub fn live_customers(&self) -> usize {
        self.customers
            .values()
            .filter(|c| c.get("deleted").is_none())
            .count()
    }
}

type Shared = Arc<Mutex<StripeState>>;

/// Starts the fake.
pub async fn spawn() -> Fake<StripeState> {
    let router = Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/customers/search", get(search_customers))
        .route(
            "/v1/customers/{id}",
            get(get_customer).post(update_customer),
        )
        .route(
            "/v1/customers/{id}/payment_methods",
            get(list_payment_methods),
        )
        .route("/v1/setup_intents", post(create_setup_intent))
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/balance", get(balance))
        .route(
            "/v1/subscriptions",
            post(create_subscription).get(list_subscriptions),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription).post(update_subscription),
        );
    let options = super::Options {
        contract: None,
        rules: Some(contract::check),
        refusal: Some(|status, message, _| {
            error(status, "invalid_request_error", None, None, message)
        }),
        interceptor: Some(Box::new(|state| Arc::new(Replays(state)))),
    };
    super::spawn_with(
        router,
        StripeState::default(),
        |status| error(status, "api_error", None, None, "injected fault"),
        options,
    )
    .await
}

/// Stripe's idempotency layer around faults: a POST whose key has a saved answer gets it
/// replayed (before any injected fault), and an injected 5xx on a keyed POST is saved like
/// any answer of an executing endpoint — Stripe replays 500s too.
struct Replays(Shared);

fn fault_body() -> Value {
    json!({"error": {"type": "api_error", "message": "injected fault"}})
}

impl super::Interceptor for Replays {
    fn before(&self, call: &super::Call) -> Option<Response> {
        if call.method != axum::http::Method::POST {
            return None;
        }
        let key = call.header("idempotency-key")?;
        let s = self.0.lock().unwrap();
        let (saved, status, body) = s.idempotency.get(key)?;
        if *saved != fingerprint(&call.path, &call.body) {
            return Some(error(
                400,
                "idempotency_error",
                None,
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ));
        }
        Some(replay(*status, body))
    }

    fn faulted(&self, call: &super::Call, status: u16) {
        let Some(key) = call.header("idempotency-key") else {
            return;
        };
        if call.method == axum::http::Method::POST && status >= 500 {
            let fingerprint = fingerprint(&call.path, &call.body);
            self.0
                .lock()
                .unwrap()
                .idempotency
                .entry(key.to_owned())
                .or_insert((fingerprint, status, fault_body()));
        }
    }
}

fn replay(status: u16, body: &Value) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(body.clone()),
    )
        .into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", "true".parse().unwrap());
    response
}

impl Fake<StripeState> {
    /// Attaches a card to a customer, as a completed SetupIntent would; returns its id.
    pub fn add_card(&self, customer: &str, brand: &str, last4: &str) -> String {
        let mut s = self.state();
        let id = s.id("pm");
        let created = s.tick();
        s.payment_methods.push(json!({
            "id": id, "object": "payment_method", "type": "card", "customer": customer,
            "created": created, "livemode": false, "billing_details": {},
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2030},
        }));
        id
    }

    /// Adds an invoice for a customer; returns its id.
    pub fn add_invoice(&self, customer: &str, amount_due: i64, status: &str) -> String {
        let mut s = self.state();
        let id = s.id("in");
        let created = s.tick();
        let number = format!("DZK-{:04}", s.invoices.len() + 1);
        s.invoices.push(json!({
            "id": id, "object": "invoice", "customer": customer, "status": status,
            "number": number, "currency": "eur",
            "amount_due": amount_due, "amount_paid": if status == "paid" { amount_due } else { 0 },
            "amount_remaining": if status == "paid" { 0 } else { amount_due },
            "total": amount_due, "subtotal": amount_due,
            "period_start": created - 30 * 86_400, "period_end": created, "due_date": null,
            "created": created, "hosted_invoice_url": format!("https://invoice.stripe.com/i/{id}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/{id}/pdf"),
        }));
        id
    }

    /// A recurring price of the account (`interval` `month` or `year`), per seat.
    pub fn add_price(&self, id: &str, unit_amount: i64, currency: &str, interval: &str) {
        let mut s = self.state();
        let created = s.tick();
        s.prices.insert(
            id.to_owned(),
            json!({
                "id": id, "object": "price", "active": true, "created": created, "livemode": false,
                "currency": currency, "unit_amount": unit_amount, "type": "recurring",
                "billing_scheme": "per_unit", "lookup_key": null,
                "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
            }),
        );
    }

    /// The subscription `id` as the fake holds it.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.state().subscriptions.get(id).cloned()
    }

    /// Deletes a customer as `DELETE /v1/customers/{id}` would.
    pub fn delete_customer(&self, id: &str) {
        let mut s = self.state();
        s.customers.insert(
            id.to_owned(),
            json!({"id": id, "object": "customer", "deleted": true}),
        );
    }
}

/// Stripe's error envelope.
fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Response {
    let mut body = json!({"type": kind, "message": message});
    if let Some(code) = code {
        body["code"] = json!(code);
        body["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    if let Some(param) = param {
        body["param"] = json!(param);
    }
    let status = StatusCode::from_u16(status).unwrap();
    (status, axum::Json(json!({ "error": body }))).into_response()
}

fn invalid(code: &str, param: &str, message: &str) -> Response {
    error(
        400,
        "invalid_request_error",
        Some(code),
        Some(param),
        message,
    )
}

fn no_such(kind: &str, id: &str, param: &str, status: u16) -> Response {
    error(
        status,
        "invalid_request_error",
        Some("resource_missing"),
        Some(param),
        &format!("No such {kind}: '{id}'"),
    )
}

/// Bearer, or Basic with the key as user name and an empty password, as Stripe accepts it.
/// `GET /v1/balance`: the account's balance (the adapter's probe).
async fn balance(headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    axum::Json(serde_json::json!({
        "object": "balance",
        "available": [{ "amount": 0, "currency": "eur", "source_types": { "card": 0 } }],
        "connect_reserved": [],
        "livemode": false,
        "pending": [{ "amount": 0, "currency": "eur", "source_types": { "card": 0 } }]
    }))
    .into_response()
}

fn authorize(headers: &HeaderMap) -> Result<(), Response> {
    use base64::Engine;
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_KEY}:"));
    if header == format!("Bearer {SECRET_KEY}") || header == format!("Basic {basic}") {
        return Ok(());
    }
    let message = if header.is_empty() {
        "You did not provide an API key."
    } else {
        "Invalid API Key provided: sk_test_****"
    };
    Err(error(401, "invalid_request_error", None, None, message))
}

/// Parses a form body in bracket notation (`a[b]=1`, `a[]=x`) into nested JSON, refusing
/// parameters outside `allowed` (top-level names, or `parent[child]` for nested ones).
fn parse_form(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, Response> {
    let text = std::str::from_utf8(body).unwrap_or("");
    let mut out = Map::new();
    for (key, value) in pairs(text) {
        let (head, rest) = key
            .split_once('[')
            .map_or((key.as_str(), ""), |(h, r)| (h, r));
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.trim_end_matches(']').split("][").collect()
        };
        let shape = match segments.first() {
            None | Some(&"") => head.to_owned(),
            Some(child) => format!("{head}[{child}]"),
        };
        let open_map = allowed.contains(&format!("{head}[*]").as_str());
        if !allowed.contains(&shape.as_str()) && !open_map {
            return Err(invalid(
                "parameter_unknown",
                &key,
                &format!("Received unknown parameter: {key}"),
            ));
        }
        let slot = out.entry(head.to_owned());
        match segments.as_slice() {
            [] => {
                slot.or_insert(Value::String(value));
            }
            [""] => {
                let list = slot.or_insert_with(|| Value::Array(Vec::new()));
                list.as_array_mut().unwrap().push(Value::String(value));
            }
            [child] => {
                let map = slot.or_insert_with(|| Value::Object(Map::new()));
                map[*child] = Value::String(value);
            }
            [child, grandchild, ..] => {
                let map = slot.or_insert_with(|| Value::Object(Map::new()));
                if !map[*child].is_object() {
                    map[*child] = Value::Object(Map::new());
                }
                map[*child][*grandchild] = Value::String(value);
            }
        }
    }
    Ok(out)
}

/// Runs a POST under Stripe's idempotency rules: a known key with the same parameters
/// replays the saved answer; with other parameters it is an `idempotency_error`.
fn idempotent(
    state: &Shared,
    headers: &HeaderMap,
    fingerprint: String,
    run: impl FnOnce(&mut StripeState) -> Result<Value, Response>,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut s = state.lock().unwrap();
    if let Some(key) = &key
        && let Some((saved_fingerprint, status, body)) = s.idempotency.get(key)
    {
        if *saved_fingerprint != fingerprint {
            return error(
                400,
                "idempotency_error",
                None,
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        return replay(*status, body);
    }
    match run(&mut s) {
        Ok(_) if s.fail_after_executing > 0 => {
            // It ran (the object exists), then failed: the 500 is what gets saved.
            s.fail_after_executing -= 1;
            if let Some(key) = key {
                s.idempotency.insert(key, (fingerprint, 500, fault_body()));
            }
            error(500, "api_error", None, None, "injected fault")
        }
        Ok(body) => {
            if let Some(key) = key {
                s.idempotency.insert(key, (fingerprint, 200, body.clone()));
            }
            axum::Json(body).into_response()
        }
        // Validation failures are not saved (Stripe: "not the result of executing").
        Err(response) => response,
    }
}

fn fingerprint(path: &str, body: &[u8]) -> String {
    let mut params = pairs(std::str::from_utf8(body).unwrap_or(""));
    params.sort();
    format!("{path}?{params:?}")
}
