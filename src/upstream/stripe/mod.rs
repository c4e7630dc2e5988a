//! Stripe (API v1): customers, subscriptions, SetupIntents, card payment methods, invoices, and webhook
//! signature verification.
//!
//! Wire facts (docs.stripe.com/api): form-encoded request bodies with bracket notation,
//! JSON answers, `Idempotency-Key` on every POST (the server replays the first answer),
//! errors as `{"error": {"type", "code", "message", "param", …}}`, lists as
//! `{"object": "list", "data": [...], "has_more": bool}` paged with `starting_after`.

mod http;
mod subscriptions;
pub mod webhook;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use http::HttpStripeClient;

use super::Secret;
use super::error::{CallError, unavailable};
use crate::AppError;

/// What [`StripeClient::ensure_customer`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureCustomer {
    /// Our tenant id; stored as `metadata[dezky_tenant_id]` and the base of the
    /// idempotency key, so retries and repeats create one customer.
    pub tenant_id: String,
    /// The customer id we stored earlier, if any; it is returned when it still exists.
    pub existing_id: Option<String>,
    /// Billing e-mail address.
    pub email: Option<String>,
    /// Customer name (the tenant's name).
    pub name: String,
}

/// A Stripe customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `cus_…`.
    pub id: String,
    /// Billing e-mail address.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// `invoice_settings.default_payment_method`.
    pub default_payment_method: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
}

/// The billing details [`StripeClient::update_customer_details`] writes onto a customer;
/// `None` clears a field in Stripe (except `name`, which is then left as it is).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerDetails {
    /// The company name (the customer's `name`).
    pub company: Option<String>,
    /// Billing e-mail address (`email`).
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 (`address[country]`).
    pub country: Option<String>,
    /// The VAT id (`metadata[vat_id]`).
    pub vat_id: Option<String>,
}

/// What [`StripeClient::create_setup_intent`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSetupIntent {
    /// The customer the card will be saved for.
    pub customer_id: String,
    /// Chosen by the caller (e.g. its request or job id), so a repeated call returns the
    /// same SetupIntent instead of a second one.
    pub idempotency_key: String,
}

/// A SetupIntent for collecting a card off-session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupIntent {
    /// `seti_…`.
    pub id: String,
    /// The secret the browser uses with Stripe.js; never log it.
    pub client_secret: Secret,
    /// `requires_payment_method`, `succeeded`, …
    pub status: String,
    /// The customer.
    pub customer: Option<String>,
}

/// A saved card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    /// `pm_…`.
    pub id: String,
    /// `visa`, `mastercard`, …
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month (1–12).
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
}

/// One page of [`StripeClient::list_invoices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInvoices {
    /// Whose invoices.
    pub customer_id: String,
    /// Page size, 1–100.
    pub limit: u8,
    /// The last invoice id of the previous page.
    pub starting_after: Option<String>,
}

/// A page of a Stripe list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Whether more follow; pass the last item's id as `starting_after` to get them.
    pub has_more: bool,
}

/// An invoice, in integer minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// `in_…`.
    pub id: String,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: Option<String>,
    /// Invoice number, once finalised.
    pub number: Option<String>,
    /// ISO currency, lower case.
    pub currency: String,
    /// Amount due, minor units.
    pub amount_due: i64,
    /// Amount paid, minor units.
    pub amount_paid: i64,
    /// Total, minor units.
    pub total: Option<i64>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Start of the billed period, Unix seconds.
    pub period_start: Option<i64>,
    /// End of the billed period, Unix seconds.
    pub period_end: Option<i64>,
    /// Due date, Unix seconds.
    pub due_date: Option<i64>,
    /// The hosted invoice page.
    pub hosted_invoice_url: Option<String>,
    /// The PDF.
    pub invoice_pdf: Option<String>,
}

/// What [`StripeClient::ensure_subscription`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureSubscription {
    /// Our tenant id: `metadata[dezky_tenant_id]` and the base of the idempotency key.
    pub tenant_id: String,
    /// The tenant's customer.
    pub customer_id: String,
    /// The subscription id we stored earlier; returned while it can still bill.
    pub existing_id: Option<String>,
    /// The Stripe Price (`price_…`).
    pub price_id: String,
    /// Seats.
    pub quantity: u32,
    /// Our plan key (`metadata[plan]`).
    pub plan: String,
}

/// What [`StripeClient::change_subscription`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSubscription {
    /// `sub_…`.
    pub id: String,
    /// The new Stripe Price.
    pub price_id: String,
    /// The new number of seats.
    pub quantity: u32,
    /// Our plan key (`metadata[plan]`).
    pub plan: String,
    /// Chosen by the caller (its job), so a retried change is applied once.
    pub idempotency_key: String,
}

/// A subscription with its single item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSubscription {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// Stripe's status (`incomplete`, `active`, …).
    pub status: String,
    /// Whether it ends at the period's end.
    pub cancel_at_period_end: bool,
    /// End of the current period, Unix seconds.
    pub current_period_end: Option<i64>,
    /// `si_…`: the item carrying price and quantity.
    pub item_id: String,
    /// `price_…`.
    pub price_id: String,
    /// Seats.
    pub quantity: i64,
    /// Price of one seat per period, minor units.
    pub unit_amount: Option<i64>,
    /// ISO currency, lower case.
    pub currency: String,
    /// `month` or `year`.
    pub interval: Option<String>,
    /// `metadata[plan]`.
    pub plan: Option<String>,
}

/// How a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// `card_error`: the card was declined or is invalid; the message can be shown.
    #[error("card error: {message}")]
    Card {
        /// e.g. `card_declined`.
        code: Option<String>,
        /// e.g. `insufficient_funds`.
        decline_code: Option<String>,
        /// Stripe's message, meant for the card holder.
        message: String,
    },
    /// `resource_missing`: the object named by `param` does not exist.
    #[error("not found: {message}")]
    NotFound {
        /// The parameter naming the missing object (`id`, `customer`, …).
        param: Option<String>,
        /// Stripe's message.
        message: String,
    },
    /// `idempotency_error`: a key reused with other parameters, or a concurrent request.
    #[error("idempotency error: {message}")]
    Idempotency {
        /// Stripe's message.
        message: String,
    },
    /// Any other `invalid_request_error`: a bug on our side or bad input.
    #[error("invalid request ({code:?}, param {param:?}): {message}")]
    InvalidRequest {
        /// e.g. `parameter_unknown`, `email_invalid`.
        code: Option<String>,
        /// The parameter at fault.
        param: Option<String>,
        /// Stripe's message.
        message: String,
    },
    /// Transport failure, 5xx, 429 or refused key.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<StripeError> for AppError {
    fn from(err: StripeError) -> Self {
        match err {
            StripeError::Card { message, .. } => AppError::bad_input("paymentMethod", message),
            StripeError::NotFound { .. } => AppError::NotFound {
                what: "billing object",
            },
            StripeError::Call(_) => unavailable("stripe", err),
            StripeError::Idempotency { .. } | StripeError::InvalidRequest { .. } => {
                AppError::internal(err)
            }
        }
    }
}

/// The Stripe operations the control plane uses.
#[async_trait]
pub trait StripeClient: Send + Sync {
    /// The cheapest authenticated call (`GET /v1/balance`), sent once: proves the API answers
    /// and accepts our key.
    async fn probe(&self) -> Result<(), StripeError>;

    /// Returns `existing_id` when that customer still exists; otherwise creates one with an
    /// idempotency key derived from the tenant, so repeating the call never creates two.
    async fn ensure_customer(&self, request: &EnsureCustomer) -> Result<Customer, StripeError>;

    /// Writes the tenant's billing details onto the customer.
    async fn update_customer_details(
        &self,
        customer_id: &str,
        details: &CustomerDetails,
    ) -> Result<Customer, StripeError>;

    /// Creates an off-session card SetupIntent for the customer.
    async fn create_setup_intent(
        &self,
        request: &NewSetupIntent,
    ) -> Result<SetupIntent, StripeError>;

    /// Every card saved on the customer (all pages).
    async fn list_card_payment_methods(
        &self,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, StripeError>;

    /// Sets `invoice_settings.default_payment_method`.
    async fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<Customer, StripeError>;

    /// The tenant's subscription: `existing_id` while it can still bill, else a new one (one
    /// item: the price × quantity) under an idempotency key derived from the tenant.
    async fn ensure_subscription(
        &self,
        request: &EnsureSubscription,
    ) -> Result<StripeSubscription, StripeError>;

    /// Changes the price and quantity of the subscription's item; Stripe prorates.
    async fn change_subscription(
        &self,
        request: &ChangeSubscription,
    ) -> Result<StripeSubscription, StripeError>;

    /// Sets `cancel_at_period_end`: it bills no more periods.
    async fn cancel_subscription_at_period_end(
        &self,
        subscription_id: &str,
    ) -> Result<StripeSubscription, StripeError>;

    /// One page of the customer's invoices, newest first.
    async fn list_invoices(&self, request: &ListInvoices) -> Result<Page<Invoice>, StripeError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn errors_map_to_app_codes() {
        let card = StripeError::Card {
            code: Some("card_declined".into()),
            decline_code: None,
            message: "Your card was declined.".into(),
        };
        let app = AppError::from(card);
        assert_eq!(app.code(), ErrorCode::BadUserInput);
        assert_eq!(app.public_message(), "Your card was declined.");
        let missing = StripeError::NotFound {
            param: Some("id".into()),
            message: "No such customer".into(),
        };
        assert_eq!(AppError::from(missing).code(), ErrorCode::NotFound);
        let down = StripeError::Call(CallError::Unavailable { status: 503 });
        assert!(matches!(
            AppError::from(down),
            AppError::UpstreamUnavailable {
                service: "stripe",
                ..
            }
        ));
        let bug = StripeError::InvalidRequest {
            code: Some("parameter_unknown".into()),
            param: Some("x".into()),
            message: "Received unknown parameter: x".into(),
        };
        assert_eq!(AppError::from(bug).code(), ErrorCode::Internal);
    }
}
