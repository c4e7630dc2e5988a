//! Stripe subscriptions (`/v1/subscriptions`): one per tenant, created idempotently after the
//! customer, changed with proration, cancelled at the period's end.

use serde::Deserialize;

use super::http::{HttpStripeClient, Keyed, List, TENANT_METADATA_KEY, pair, segment};
use super::{ChangeSubscription, EnsureSubscription, StripeError, StripeSubscription};
use crate::upstream::error::CallError;
use crate::upstream::transport::Request;

/// Most idempotency keys one creation walks through (each burned by a saved 5xx).
const MAX_KEY_GENERATIONS: u32 = 16;

/// Statuses after which a subscription can never bill again.
const ENDED: [&str; 2] = ["canceled", "incomplete_expired"];

#[derive(Deserialize)]
pub(super) struct SubscriptionWire {
    id: String,
    customer: String,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    current_period_end: Option<i64>,
    items: List<ItemWire>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ItemWire {
    id: String,
    quantity: Option<i64>,
    current_period_end: Option<i64>,
    price: PriceWire,
}

#[derive(Deserialize)]
struct PriceWire {
    id: String,
    unit_amount: Option<i64>,
    currency: String,
    recurring: Option<RecurringWire>,
}

#[derive(Deserialize)]
struct RecurringWire {
    interval: String,
}

impl SubscriptionWire {
    fn into_subscription(self) -> Result<StripeSubscription, StripeError> {
        let Some(item) = self.items.data.into_iter().next() else {
            return Err(CallError::Unexpected {
                status: 200,
                detail: "a subscription without items".into(),
            }
            .into());
        };
        Ok(StripeSubscription {
            id: self.id,
            customer: self.customer,
            status: self.status,
            cancel_at_period_end: self.cancel_at_period_end,
            current_period_end: item.current_period_end.or(self.current_period_end),
            item_id: item.id,
            price_id: item.price.id,
            quantity: item.quantity.unwrap_or(1),
            unit_amount: item.price.unit_amount,
            currency: item.price.currency,
            interval: item.price.recurring.map(|r| r.interval),
            plan: self.metadata.get("plan").cloned(),
        })
    }
}

impl HttpStripeClient {
    /// The subscription `id`, as Stripe has it now.
    async fn subscription(&self, id: &str) -> Result<SubscriptionWire, StripeError> {
        let path = format!("/v1/subscriptions/{}", segment(id)?);
        self.call(Request::get(path)).await
    }

    /// A subscription of `customer` for `tenant_id` that can still bill, if any.
    async fn live_subscription_of(
        &self,
        customer: &str,
        tenant_id: &str,
    ) -> Result<Option<SubscriptionWire>, StripeError> {
        let request = Request::get("/v1/subscriptions")
            .query("customer", customer)
            .query("limit", "100");
        let page: List<SubscriptionWire> = self.call(request).await?;
        Ok(page.data.into_iter().find(|s| {
            !ENDED.contains(&s.status.as_str())
                && s.metadata.get(TENANT_METADATA_KEY).map(String::as_str) == Some(tenant_id)
        }))
    }

    pub(super) async fn ensure_subscription_impl(
        &self,
        request: &EnsureSubscription,
    ) -> Result<StripeSubscription, StripeError> {
        let mut key = format!("dezky-subscription-{}", request.tenant_id);
        if let Some(id) = &request.existing_id {
            match self.subscription(id).await {
                Ok(found) if !ENDED.contains(&found.status.as_str()) => {
                    return found.into_subscription();
                }
                Ok(_) | Err(StripeError::NotFound { .. }) => {
                    key = format!("{key}-after-{id}");
                }
                Err(other) => return Err(other),
            }
        }
        let form = vec![
            pair("customer", &request.customer_id),
            pair("items[0][price]", &request.price_id),
            pair("items[0][quantity]", request.quantity.to_string()),
            pair("payment_behavior", "default_incomplete"),
            pair(
                &format!("metadata[{TENANT_METADATA_KEY}]"),
                &request.tenant_id,
            ),
            pair("metadata[plan]", &request.plan),
        ];
        for generation in 0..MAX_KEY_GENERATIONS {
            let attempt = match generation {
                0 => key.clone(),
                n => format!("{key}-retry{n}"),
            };
            match self
                .create_keyed::<SubscriptionWire>("/v1/subscriptions", &form, &attempt)
                .await?
            {
                Keyed::Done(sub) => return sub.into_subscription(),
                Keyed::Spent => {
                    let found = self
                        .live_subscription_of(&request.customer_id, &request.tenant_id)
                        .await?;
                    if let Some(found) = found {
                        return found.into_subscription();
                    }
                }
            }
        }
        Err(CallError::Unexpected {
            status: 500,
            detail: format!("{MAX_KEY_GENERATIONS} idempotency keys spent by saved failures"),
        }
        .into())
    }

    pub(super) async fn change_subscription_impl(
        &self,
        request: &ChangeSubscription,
    ) -> Result<StripeSubscription, StripeError> {
        let current = self.subscription(&request.id).await?.into_subscription()?;
        let path = format!("/v1/subscriptions/{}", segment(&request.id)?);
        let form = [
            pair("items[0][id]", &current.item_id),
            pair("items[0][price]", &request.price_id),
            pair("items[0][quantity]", request.quantity.to_string()),
            pair("proration_behavior", "create_prorations"),
            pair("metadata[plan]", &request.plan),
        ];
        let update = Request::post(path)
            .form(&form)
            .idempotency_key(&request.idempotency_key)
            .replays_server_errors();
        self.call::<SubscriptionWire>(update)
            .await?
            .into_subscription()
    }

    pub(super) async fn cancel_at_period_end_impl(
        &self,
        id: &str,
    ) -> Result<StripeSubscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", segment(id)?);
        // Cancelling twice is harmless; a fresh key makes this call's own retries replay.
        let update = Request::post(path)
            .form(&[pair("cancel_at_period_end", "true")])
            .idempotency_key(uuid::Uuid::new_v4().to_string())
            .replays_server_errors();
        self.call::<SubscriptionWire>(update)
            .await?
            .into_subscription()
    }
}
