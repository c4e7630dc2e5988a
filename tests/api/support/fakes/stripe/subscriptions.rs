//! `/v1/subscriptions`: create (one item: a price of the fake's catalogue × quantity),
//! retrieve, list by customer, update (the item's price and quantity, `proration_behavior`,
//! `cancel_at_period_end`, metadata). Objects as Stripe returns them (API 2025-03-31 and
//! later: the period on the item; older fields kept at the top level too).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::handlers::{known_query, page, respond};
use super::{
    Shared, StripeState, authorize, fingerprint, idempotent, invalid, no_such, pairs, parse_form,
};

/// A month, as the fake bills it.
const PERIOD: i64 = 30 * 86_400;

/// The item of a subscription for `price` × `quantity`.
fn item(s: &mut StripeState, sub: &str, price: &Value, quantity: i64, start: i64) -> Value {
    let id = s.id("si");
    json!({
        "id": id, "object": "subscription_item", "subscription": sub, "quantity": quantity,
        "price": price, "current_period_start": start, "current_period_end": start + PERIOD,
    })
}

fn quantity(form: &serde_json::Map<String, Value>) -> Result<Option<i64>, Response> {
    let given = form
        .get("items")
        .and_then(|i| i.get("0"))
        .and_then(|i| i.get("quantity"))
        .and_then(Value::as_str);
    match given {
        None => Ok(None),
        Some(q) => match q.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(invalid(
                "parameter_invalid_integer",
                "items[0][quantity]",
                "Invalid integer",
            )),
        },
    }
}

pub(super) async fn create_subscription(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let allowed = [
        "customer",
        "items[*]",
        "metadata[*]",
        "payment_behavior",
        "proration_behavior",
        "collection_method",
        "days_until_due",
    ];
    let form = match parse_form(&body, &allowed) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let (Some(customer), Some(price)) = (
        form.get("customer")
            .and_then(Value::as_str)
            .map(str::to_owned),
        form.get("items")
            .and_then(|i| i["0"].get("price"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    ) else {
        return invalid(
            "parameter_missing",
            "customer",
            "Missing required param: customer and items[0][price].",
        );
    };
    let quantity = match quantity(&form) {
        Ok(q) => q.unwrap_or(1),
        Err(refused) => return refused,
    };
    idempotent(
        &state,
        &headers,
        fingerprint("/v1/subscriptions", &body),
        |s| {
            if !s.is_live(&customer) {
                return Err(no_such("customer", &customer, "customer", 400));
            }
            let Some(price) = s.prices.get(&price).cloned() else {
                return Err(no_such("price", &price, "items[0][price]", 400));
            };
            let id = s.id("sub");
            let start = s.tick();
            let item = item(s, &id, &price, quantity, start);
            // Without a default card the first invoice cannot be paid at once.
            let has_card =
                !s.customers[&customer]["invoice_settings"]["default_payment_method"].is_null();
            let sub = json!({
                "id": id, "object": "subscription", "customer": customer, "created": start,
                "livemode": false, "status": if has_card { "active" } else { "incomplete" },
                "cancel_at_period_end": false, "canceled_at": null,
                "current_period_start": start, "current_period_end": start + PERIOD,
                "items": { "object": "list", "url": format!("/v1/subscription_items?subscription={id}"),
                           "has_more": false, "data": [item] },
                "metadata": form.get("metadata").cloned().unwrap_or_else(|| json!({})),
            });
            s.subscriptions.insert(id, sub.clone());
            Ok(sub)
        },
    )
}

pub(super) async fn get_subscription(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    match state.lock().unwrap().subscriptions.get(&id) {
        Some(sub) => axum::Json(sub.clone()).into_response(),
        None => no_such("subscription", &id, "id", 404),
    }
}

pub(super) async fn list_subscriptions(
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
        "price",
        "limit",
        "starting_after",
        "ending_before",
    ];
    if let Err(refused) = known_query(&query, &allowed) {
        return refused;
    }
    let customer = query
        .iter()
        .find(|(k, _)| k == "customer")
        .map(|(_, v)| v.clone());
    let s = state.lock().unwrap();
    // Stripe lists all but canceled ones unless `status` says otherwise.
    let items: Vec<Value> = s
        .subscriptions
        .values()
        .rev()
        .filter(|sub| customer.as_deref().is_none_or(|c| sub["customer"] == c))
        .filter(|sub| sub["status"] != "canceled")
        .cloned()
        .collect();
    respond(page("/v1/subscriptions", items, &query))
}

pub(super) async fn update_subscription(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&headers) {
        return denied;
    }
    let allowed = [
        "items[*]",
        "metadata[*]",
        "proration_behavior",
        "cancel_at_period_end",
        "payment_behavior",
    ];
    let form = match parse_form(&body, &allowed) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let proration = form.get("proration_behavior").and_then(Value::as_str);
    if proration.is_some_and(|p| !matches!(p, "create_prorations" | "none" | "always_invoice")) {
        return invalid(
            "parameter_invalid",
            "proration_behavior",
            "Invalid proration_behavior",
        );
    }
    let quantity = match quantity(&form) {
        Ok(q) => q,
        Err(refused) => return refused,
    };
    let path = format!("/v1/subscriptions/{id}");
    idempotent(&state, &headers, fingerprint(&path, &body), |s| {
        let Some(mut sub) = s.subscriptions.get(&id).cloned() else {
            return Err(no_such("subscription", &id, "id", 404));
        };
        if sub["status"] == "canceled" {
            return Err(invalid(
                "resource_missing",
                "id",
                "A canceled subscription can only update its cancellation_details and metadata.",
            ));
        }
        if let Some(items) = form.get("items") {
            let item_id = items["0"].get("id").and_then(Value::as_str).unwrap_or("");
            if sub["items"]["data"][0]["id"] != item_id {
                return Err(invalid(
                    "resource_missing",
                    "items[0][id]",
                    &format!("No such subscription item: '{item_id}'"),
                ));
            }
            if let Some(price) = items["0"].get("price").and_then(Value::as_str) {
                let Some(found) = s.prices.get(price).cloned() else {
                    return Err(no_such("price", price, "items[0][price]", 400));
                };
                sub["items"]["data"][0]["price"] = found;
            }
            if let Some(q) = quantity {
                sub["items"]["data"][0]["quantity"] = json!(q);
            }
            if proration != Some("none") {
                s.prorations.push(id.clone());
            }
        }
        if let Some(cancel) = form.get("cancel_at_period_end").and_then(Value::as_str) {
            sub["cancel_at_period_end"] = json!(cancel == "true");
        }
        if let Some(Value::Object(meta)) = form.get("metadata") {
            for (k, v) in meta {
                sub["metadata"][k] = v.clone();
            }
        }
        s.subscriptions.insert(id.clone(), sub.clone());
        Ok(sub)
    })
}
