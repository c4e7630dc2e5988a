//! A Stripe API v1 fake: bearer key check, form bodies in bracket notation with unknown
//! parameters refused (`parameter_unknown`, as Stripe does), the error envelope, list
//! pagination (newest first, `starting_after`), and idempotent replay of POSTs by
//! `Idempotency-Key` (same key + other parameters → `idempotency_error`).
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

mod handlers;

use handlers::*;

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
    idempotency: HashMap<String, (String, u16, Value)>,
    next_id: u64,
    clock: i64,
}

impl StripeState {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:06}", self.next_id)
    }

    fn tick(&mut self) -> i64 {
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
        .route(
            "/v1/customers/{id}",
            get(get_customer).post(update_customer),
        )
        .route(
            "/v1/customers/{id}/payment_methods",
            get(list_payment_methods),
        )
        .route("/v1/setup_intents", post(create_setup_intent))
        .route("/v1/invoices", get(list_invoices));
    super::spawn(router, StripeState::default(), |status| {
        error(status, "api_error", None, None, "injected fault")
    })
    .await
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
            "created": created, "hosted_invoice_url": format!("https://invoice.stripe.com/i/{id}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/{id}/pdf"),
        }));
        id
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

/// Bearer (or Basic with the key as user name) as Stripe accepts it.
fn authorize(headers: &HeaderMap) -> Result<(), Response> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if header == format!("Bearer {SECRET_KEY}") {
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
            [child, ..] => {
                let map = slot.or_insert_with(|| Value::Object(Map::new()));
                map[*child] = Value::String(value);
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
        let mut response = (
            StatusCode::from_u16(*status).unwrap(),
            axum::Json(body.clone()),
        )
            .into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
        return response;
    }
    match run(&mut s) {
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
