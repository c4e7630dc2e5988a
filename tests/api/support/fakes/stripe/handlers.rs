//! The endpoints: customers, SetupIntents, payment methods, invoices.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    Shared, authorize, error, fingerprint, idempotent, invalid, no_such, pairs, parse_form,
};

pub(super) async fn create_customer(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let allowed = [
        "name",
        "email",
        "description",
        "phone",
        "metadata[*]",
        "invoice_settings[default_payment_method]",
    ];
    let form = match parse_form(&body, &allowed) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    if let Some(email) = form.get("email").and_then(Value::as_str)
        && !email.contains('@')
    {
        return invalid(
            "email_invalid",
            "email",
            &format!("Invalid email address: {email}"),
        );
    }
    idempotent(&state, &headers, fingerprint("/v1/customers", &body), |s| {
        let id = s.id("cus");
        let created = s.tick();
        let customer = json!({
            "id": id, "object": "customer", "created": created, "livemode": false,
            "name": form.get("name"), "email": form.get("email"),
            "description": form.get("description"), "phone": form.get("phone"),
            "metadata": form.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "invoice_settings": {"custom_fields": null, "footer": null, "rendering_options": null,
                "default_payment_method": null},
        });
        s.customers.insert(id, customer.clone());
        Ok(customer)
    })
}

pub(super) async fn get_customer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    match state.lock().unwrap().customers.get(&id) {
        Some(customer) => axum::Json(customer.clone()).into_response(),
        None => no_such("customer", &id, "id", 404),
    }
}

pub(super) async fn update_customer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let allowed = [
        "name",
        "email",
        "description",
        "phone",
        "metadata[*]",
        "address",
        "address[country]",
        "invoice_settings[default_payment_method]",
    ];
    let form = match parse_form(&body, &allowed) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    if let Some(email) = form.get("email").and_then(Value::as_str)
        && !email.is_empty()
        && !email.contains('@')
    {
        return invalid(
            "email_invalid",
            "email",
            &format!("Invalid email address: {email}"),
        );
    }
    let path = format!("/v1/customers/{id}");
    idempotent(&state, &headers, fingerprint(&path, &body), |s| {
        if !s.is_live(&id) {
            return Err(no_such("customer", &id, "id", 404));
        }
        let pm = form
            .get("invoice_settings")
            .and_then(|i| i.get("default_payment_method"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(pm) = &pm {
            let param = "invoice_settings[default_payment_method]";
            let Some(found) = s.payment_methods.iter().find(|p| p["id"] == pm.as_str()) else {
                return Err(no_such("PaymentMethod", pm, param, 400));
            };
            if found["customer"] != id.as_str() {
                return Err(error(
                    400,
                    "invalid_request_error",
                    None,
                    Some(param),
                    &format!(
                        "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
                    ),
                ));
            }
        }
        let customer = s.customers.get_mut(&id).unwrap();
        // An empty string unsets a field, a metadata key or the whole address.
        let unset = |v: &Value| if v == "" { Value::Null } else { v.clone() };
        for field in ["name", "email", "description", "phone"] {
            if let Some(value) = form.get(field) {
                customer[field] = unset(value);
            }
        }
        match form.get("address") {
            Some(Value::Object(address)) => {
                if !customer["address"].is_object() {
                    customer["address"] = json!({"city": null, "country": null, "line1": null,
                        "line2": null, "postal_code": null, "state": null});
                }
                for (k, v) in address {
                    customer["address"][k] = unset(v);
                }
            }
            Some(_) => customer["address"] = Value::Null,
            None => {}
        }
        if let Some(Value::Object(metadata)) = form.get("metadata") {
            if !customer["metadata"].is_object() {
                customer["metadata"] = json!({});
            }
            let held = customer["metadata"].as_object_mut().unwrap();
            for (k, v) in metadata {
                if v == "" {
                    held.remove(k);
                } else {
                    held.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(pm) = pm {
            customer["invoice_settings"]["default_payment_method"] = json!(pm);
        }
        Ok(customer.clone())
    })
}

pub(super) async fn create_setup_intent(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let allowed = [
        "customer",
        "usage",
        "payment_method_types",
        "metadata[*]",
        "description",
        "payment_method",
        "confirm",
        "return_url",
    ];
    let form = match parse_form(&body, &allowed) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let usage = form
        .get("usage")
        .and_then(Value::as_str)
        .unwrap_or("off_session");
    if !matches!(usage, "off_session" | "on_session") {
        return invalid("parameter_invalid_empty", "usage", "Invalid usage");
    }
    idempotent(
        &state,
        &headers,
        fingerprint("/v1/setup_intents", &body),
        |s| {
            let customer = form
                .get("customer")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(c) = &customer
                && !s.is_live(c)
            {
                return Err(no_such("customer", c, "customer", 400));
            }
            let id = s.id("seti");
            let created = s.tick();
            let intent = json!({
                "id": id, "object": "setup_intent", "created": created, "livemode": false,
                "client_secret": format!("{id}_secret_{}", created * 7919),
                "customer": customer, "status": "requires_payment_method", "usage": usage,
                "payment_method": null, "last_setup_error": null, "next_action": null,
                "payment_method_types": form.get("payment_method_types").cloned()
                    .unwrap_or_else(|| json!(["card"])),
                "metadata": form.get("metadata").cloned().unwrap_or_else(|| json!({})),
            });
            s.setup_intents.insert(id, intent.clone());
            Ok(intent)
        },
    )
}

/// A list page (`items` newest first) after `starting_after`, at most `limit` long.
pub(super) fn page(
    url: &str,
    items: Vec<Value>,
    query: &[(String, String)],
) -> Result<Value, Response> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit: usize = match get("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(invalid(
                "parameter_invalid_integer",
                "limit",
                "Invalid limit",
            ));
        }
    };
    let start = match get("starting_after") {
        None => 0,
        Some(after) => match items.iter().position(|i| i["id"] == after) {
            Some(i) => i + 1,
            None => return Err(no_such("object", after, "starting_after", 400)),
        },
    };
    let rest: Vec<Value> = items.into_iter().skip(start).collect();
    let has_more = rest.len() > limit;
    let data: Vec<Value> = rest.into_iter().take(limit).collect();
    Ok(json!({"object": "list", "url": url, "has_more": has_more, "data": data}))
}

pub(super) fn known_query(query: &[(String, String)], allowed: &[&str]) -> Result<(), Response> {
    match query.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(invalid(
            "parameter_unknown",
            k,
            &format!("Received unknown parameter: {k}"),
        )),
        None => Ok(()),
    }
}

pub(super) async fn list_payment_methods(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let query = pairs(query.as_deref().unwrap_or(""));
    if let Err(refused) = known_query(
        &query,
        &["type", "limit", "starting_after", "ending_before"],
    ) {
        return refused;
    }
    let s = state.lock().unwrap();
    if !s.is_live(&id) {
        return no_such("customer", &id, "customer", 404);
    }
    let kind = query
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.as_str());
    let items: Vec<Value> = s
        .payment_methods
        .iter()
        .rev()
        .filter(|pm| pm["customer"] == id.as_str() && kind.is_none_or(|k| pm["type"] == k))
        .cloned()
        .collect();
    let url = format!("/v1/customers/{id}/payment_methods");
    respond(page(&url, items, &query))
}

pub(super) async fn list_invoices(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let query = pairs(query.as_deref().unwrap_or(""));
    let allowed = [
        "customer",
        "status",
        "subscription",
        "limit",
        "starting_after",
        "ending_before",
    ];
    if let Err(refused) = known_query(&query, &allowed) {
        return refused;
    }
    let s = state.lock().unwrap();
    let customer = query
        .iter()
        .find(|(k, _)| k == "customer")
        .map(|(_, v)| v.clone());
    if let Some(c) = &customer
        && !s.customers.contains_key(c)
    {
        return no_such("customer", c, "customer", 400);
    }
    let items: Vec<Value> = s
        .invoices
        .iter()
        .rev()
        .filter(|i| customer.as_deref().is_none_or(|c| i["customer"] == c))
        .cloned()
        .collect();
    respond(page("/v1/invoices", items, &query))
}

/// A JSON answer, or the error answer.
pub(super) fn respond(result: Result<Value, Response>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

/// `GET /v1/customers/search?query=metadata['k']:'v'` (the one query form the adapter uses).
pub(super) async fn search_customers(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let q = pairs(raw.as_deref().unwrap_or(""));
    let query = q
        .iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let parsed = query
        .strip_prefix("metadata['")
        .and_then(|rest| rest.split_once("']:'"))
        .and_then(|(key, value)| Some((key, value.strip_suffix('\'')?)));
    let Some((key, value)) = parsed else {
        return invalid(
            "parameter_invalid",
            "query",
            &format!("Invalid search query: {query}"),
        );
    };
    let s = state.lock().unwrap();
    let data: Vec<Value> = s
        .customers
        .values()
        .filter(|c| c.get("deleted").is_none() && c["metadata"][key] == value)
        .cloned()
        .collect();
    axum::Json(
        json!({"object": "search_result", "url": "/v1/customers/search",
        "has_more": false, "next_page": null, "data": data}),
    )
    .into_response()
}
