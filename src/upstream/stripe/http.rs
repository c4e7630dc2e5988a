//! The reqwest implementation of [`StripeClient`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    ChangeSubscription, Customer, CustomerDetails, EnsureCustomer, EnsureSubscription, Invoice,
    ListInvoices, NewSetupIntent, Page, PaymentMethod, SetupIntent, StripeClient, StripeError,
    StripeSubscription,
};
use crate::upstream::config::{Credentials, HttpSettings, StripeConfig};
use crate::upstream::error::CallError;
use crate::upstream::transport::{Request, Response, Transport};

/// The metadata key that records our tenant id on a customer.
pub const TENANT_METADATA_KEY: &str = "dezky_tenant_id";

/// Most pages [`StripeClient::list_card_payment_methods`] follows (100 cards each).
const MAX_PAGES: usize = 20;

/// Most idempotency keys one creation walks through (each burned by a saved 5xx).
const MAX_KEY_GENERATIONS: u32 = 16;

/// The answer to a keyed creation.
pub(super) enum Keyed<T> {
    /// Created (or the replay of a creation).
    Done(T),
    /// Stripe replayed a 5xx saved under this key: the key is spent.
    Spent,
}

/// Stripe over HTTPS.
#[derive(Debug)]
pub struct HttpStripeClient {
    transport: Transport,
}

impl HttpStripeClient {
    /// A client for the configured API base and key.
    pub fn new(config: &StripeConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        let credentials = Credentials::Bearer(config.secret_key.clone());
        Ok(Self {
            transport: Transport::new("stripe", &config.api_base, credentials, http)?,
        })
    }

    /// POSTs a creation under `key`. Stripe saves the first answer under a key, 500s
    /// included, and replays it (marked `Idempotent-Replayed: true`) for at least 24 h; a
    /// replayed 5xx means the key is spent. A fresh 5xx is returned as the error: the
    /// caller's next attempt sees the replay and moves on to the next key.
    pub(super) async fn create_keyed<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(String, String)],
        key: &str,
    ) -> Result<Keyed<T>, StripeError> {
        let request = Request::post(path)
            .form(form)
            .idempotency_key(key)
            .replays_server_errors();
        let response = self.transport.send(request).await?;
        if response.status.is_success() {
            return Ok(Keyed::Done(response.json()?));
        }
        let replayed = response
            .headers
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        if replayed && response.status.is_server_error() {
            return Ok(Keyed::Spent);
        }
        Err(error_from(&response))
    }

    /// The live customer whose `metadata[dezky_tenant_id]` is the tenant, if any (Stripe's
    /// search; eventually consistent, so used only after a spent key, never on a hot path).
    async fn customer_of_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Option<CustomerWire>, StripeError> {
        let query = format!("metadata['{TENANT_METADATA_KEY}']:'{tenant_id}'");
        let request = Request::get("/v1/customers/search")
            .query("query", query)
            .query("limit", "10");
        let found: List<CustomerWire> = self.call(request).await?;
        Ok(found.data.into_iter().find(|c| !c.deleted))
    }

    pub(super) async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: Request,
    ) -> Result<T, StripeError> {
        let response = self.transport.send(request).await?;
        if response.status.is_success() {
            Ok(response.json()?)
        } else {
            Err(error_from(&response))
        }
    }
}

/// Reads Stripe's error envelope; the status decides first for transport-level meanings.
fn error_from(response: &Response) -> StripeError {
    if let Some(err) = response.common_error() {
        return err.into();
    }
    let status = response.code();
    if status == 403 {
        return CallError::Unauthorized { status }.into();
    }
    let Ok(Envelope { error }) = response.json::<Envelope>() else {
        return CallError::Unexpected {
            status,
            detail: "not a Stripe error envelope".into(),
        }
        .into();
    };
    let message = error.message.unwrap_or_default();
    match error.kind.as_str() {
        "card_error" => StripeError::Card {
            code: error.code,
            decline_code: error.decline_code,
            message,
        },
        "idempotency_error" => StripeError::Idempotency { message },
        _ if status == 404 || error.code.as_deref() == Some("resource_missing") => {
            StripeError::NotFound {
                param: error.param,
                message,
            }
        }
        "invalid_request_error" => StripeError::InvalidRequest {
            code: error.code,
            param: error.param,
            message,
        },
        other => CallError::Unexpected {
            status,
            detail: format!("error type {other:?}"),
        }
        .into(),
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: String,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct List<T> {
    pub(super) data: Vec<T>,
    has_more: bool,
}

#[derive(Deserialize)]
struct CustomerWire {
    id: String,
    #[serde(default)]
    deleted: bool,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    invoice_settings: Option<InvoiceSettings>,
}

#[derive(Deserialize)]
struct InvoiceSettings {
    default_payment_method: Option<String>,
}

impl From<CustomerWire> for Customer {
    fn from(c: CustomerWire) -> Self {
        Self {
            id: c.id,
            email: c.email,
            name: c.name,
            default_payment_method: c.invoice_settings.and_then(|s| s.default_payment_method),
            metadata: c.metadata,
        }
    }
}

#[derive(Deserialize)]
struct SetupIntentWire {
    id: String,
    client_secret: String,
    status: String,
    customer: Option<String>,
}

#[derive(Deserialize)]
struct PaymentMethodWire {
    id: String,
    card: Option<CardWire>,
}

#[derive(Deserialize)]
struct CardWire {
    brand: String,
    last4: String,
    exp_month: u32,
    exp_year: u32,
}

#[derive(Deserialize)]
struct InvoiceWire {
    id: String,
    status: Option<String>,
    number: Option<String>,
    currency: String,
    amount_due: i64,
    amount_paid: i64,
    total: Option<i64>,
    created: i64,
    period_start: Option<i64>,
    period_end: Option<i64>,
    due_date: Option<i64>,
    hosted_invoice_url: Option<String>,
    invoice_pdf: Option<String>,
}

impl From<InvoiceWire> for Invoice {
    fn from(i: InvoiceWire) -> Self {
        Self {
            id: i.id,
            status: i.status,
            number: i.number,
            currency: i.currency,
            amount_due: i.amount_due,
            amount_paid: i.amount_paid,
            total: i.total,
            created: i.created,
            period_start: i.period_start,
            period_end: i.period_end,
            due_date: i.due_date,
            hosted_invoice_url: i.hosted_invoice_url,
            invoice_pdf: i.invoice_pdf,
        }
    }
}

pub(super) fn pair(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

/// Path segments come from our database or from Stripe; still, never let one break out.
pub(super) fn segment(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(StripeError::InvalidRequest {
            code: None,
            param: Some("id".into()),
            message: "not a Stripe id".into(),
        })
    }
}

#[async_trait]
impl StripeClient for HttpStripeClient {
    #[tracing::instrument(name = "stripe.probe", skip_all)]
    async fn probe(&self) -> Result<(), StripeError> {
        let balance: serde_json::Value = self.call(Request::probe("/v1/balance")).await?;
        if balance["object"] == "balance" {
            Ok(())
        } else {
            Err(CallError::decode(200, "not a balance object").into())
        }
    }

    #[tracing::instrument(name = "stripe.ensure_customer", skip_all)]
    async fn ensure_customer(&self, request: &EnsureCustomer) -> Result<Customer, StripeError> {
        let mut key = format!("dezky-customer-{}", request.tenant_id);
        if let Some(id) = &request.existing_id {
            let path = format!("/v1/customers/{}", segment(id)?);
            match self.call::<CustomerWire>(Request::get(path)).await {
                Ok(found) if !found.deleted => return Ok(found.into()),
                Ok(_) | Err(StripeError::NotFound { .. }) => {
                    // Gone: a new customer, under a key that cannot replay the old creation.
                    key = format!("{key}-after-{id}");
                }
                Err(other) => return Err(other),
            }
        }
        let mut form = vec![
            pair("name", &request.name),
            pair(
                &format!("metadata[{TENANT_METADATA_KEY}]"),
                &request.tenant_id,
            ),
        ];
        if let Some(email) = &request.email {
            form.push(pair("email", email));
        }
        // Key generation 0 is `dezky-customer-<tenant>`; a key spent by a saved 5xx moves to
        // the next one, but only after a search shows that no customer of the tenant exists
        // (the failed attempt may have created one).
        for generation in 0..MAX_KEY_GENERATIONS {
            let attempt = match generation {
                0 => key.clone(),
                n => format!("{key}-retry{n}"),
            };
            match self
                .create_keyed::<CustomerWire>("/v1/customers", &form, &attempt)
                .await?
            {
                Keyed::Done(customer) => return Ok(customer.into()),
                Keyed::Spent => {
                    if let Some(found) = self.customer_of_tenant(&request.tenant_id).await? {
                        return Ok(found.into());
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

    #[tracing::instrument(name = "stripe.update_customer_details", skip_all)]
    async fn update_customer_details(
        &self,
        customer_id: &str,
        details: &CustomerDetails,
    ) -> Result<Customer, StripeError> {
        let path = format!("/v1/customers/{}", segment(customer_id)?);
        // An empty string unsets a field (and a metadata key) in Stripe.
        let or_unset = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut form = vec![
            pair("email", or_unset(&details.email)),
            pair("metadata[vat_id]", or_unset(&details.vat_id)),
        ];
        match &details.country {
            Some(country) => form.push(pair("address[country]", country)),
            None => form.push(pair("address", "")),
        }
        if let Some(company) = &details.company {
            form.push(pair("name", company));
        }
        // The whole state is written each time, so a fresh key per call is enough (its own
        // retries replay; an older write is never replayed over a newer one).
        let update = Request::post(path)
            .form(&form)
            .idempotency_key(uuid::Uuid::new_v4().to_string())
            .replays_server_errors();
        Ok(self.call::<CustomerWire>(update).await?.into())
    }

    #[tracing::instrument(name = "stripe.create_setup_intent", skip_all)]
    async fn create_setup_intent(
        &self,
        request: &NewSetupIntent,
    ) -> Result<SetupIntent, StripeError> {
        let form = [
            pair("customer", &request.customer_id),
            pair("usage", "off_session"),
            pair("payment_method_types[]", "card"),
        ];
        // A key spent by a saved 5xx moves to the next generation: an unused SetupIntent is
        // harmless, and the keys are derived, so repeating the call still finds the same one.
        let form: Vec<(String, String)> = form.to_vec();
        let mut intent = None;
        for generation in 0..MAX_KEY_GENERATIONS {
            let key = match generation {
                0 => request.idempotency_key.clone(),
                n => format!("{}-retry{n}", request.idempotency_key),
            };
            if let Keyed::Done(done) = self
                .create_keyed::<SetupIntentWire>("/v1/setup_intents", &form, &key)
                .await?
            {
                intent = Some(done);
                break;
            }
        }
        let Some(intent) = intent else {
            return Err(CallError::Unexpected {
                status: 500,
                detail: format!("{MAX_KEY_GENERATIONS} idempotency keys spent by saved failures"),
            }
            .into());
        };
        Ok(SetupIntent {
            id: intent.id,
            client_secret: intent.client_secret.into(),
            status: intent.status,
            customer: intent.customer,
        })
    }

    #[tracing::instrument(name = "stripe.list_card_payment_methods", skip_all)]
    async fn list_card_payment_methods(
        &self,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, StripeError> {
        let path = format!("/v1/customers/{}/payment_methods", segment(customer_id)?);
        let mut cards = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = Request::get(&path)
                .query("type", "card")
                .query("limit", "100");
            if let Some(last) = &after {
                request = request.query("starting_after", last);
            }
            let page: List<PaymentMethodWire> = self.call(request).await?;
            after = page.data.last().map(|pm| pm.id.clone());
            cards.extend(page.data.into_iter().filter_map(|pm| {
                let card = pm.card?;
                Some(PaymentMethod {
                    id: pm.id,
                    brand: card.brand,
                    last4: card.last4,
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                })
            }));
            if !page.has_more || after.is_none() {
                return Ok(cards);
            }
        }
        tracing::warn!(pages = MAX_PAGES, "stopped following payment method pages");
        Ok(cards)
    }

    #[tracing::instrument(name = "stripe.set_default_payment_method", skip_all)]
    async fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<Customer, StripeError> {
        let path = format!("/v1/customers/{}", segment(customer_id)?);
        let form = [pair(
            "invoice_settings[default_payment_method]",
            payment_method_id,
        )];
        // Setting the same default twice is harmless, so a fresh key per call is enough: it
        // makes this call's own retries replay, and never replays an older change.
        let update = Request::post(path)
            .form(&form)
            .idempotency_key(uuid::Uuid::new_v4().to_string())
            .replays_server_errors();
        Ok(self.call::<CustomerWire>(update).await?.into())
    }

    #[tracing::instrument(name = "stripe.ensure_subscription", skip_all)]
    async fn ensure_subscription(
        &self,
        request: &EnsureSubscription,
    ) -> Result<StripeSubscription, StripeError> {
        self.ensure_subscription_impl(request).await
    }

    #[tracing::instrument(name = "stripe.change_subscription", skip_all)]
    async fn change_subscription(
        &self,
        request: &ChangeSubscription,
    ) -> Result<StripeSubscription, StripeError> {
        self.change_subscription_impl(request).await
    }

    #[tracing::instrument(name = "stripe.cancel_subscription_at_period_end", skip_all)]
    async fn cancel_subscription_at_period_end(
        &self,
        subscription_id: &str,
    ) -> Result<StripeSubscription, StripeError> {
        self.cancel_at_period_end_impl(subscription_id).await
    }

    #[tracing::instrument(name = "stripe.list_invoices", skip_all)]
    async fn list_invoices(&self, request: &ListInvoices) -> Result<Page<Invoice>, StripeError> {
        let limit = request.limit.clamp(1, 100);
        let mut get = Request::get("/v1/invoices")
            .query("customer", &request.customer_id)
            .query("limit", limit.to_string());
        if let Some(after) = &request.starting_after {
            get = get.query("starting_after", after);
        }
        let page: List<InvoiceWire> = self.call(get).await?;
        Ok(Page {
            items: page.data.into_iter().map(Invoice::from).collect(),
            has_more: page.has_more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_owned().into(),
        }
    }

    #[test]
    fn error_envelopes_map_by_type_and_code() {
        let card = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#;
        assert!(matches!(
            error_from(&response(402, card)),
            StripeError::Card { decline_code: Some(d), .. } if d == "insufficient_funds"
        ));
        let missing = r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id","message":"No such customer: 'cus_x'"}}"#;
        assert!(matches!(
            error_from(&response(404, missing)),
            StripeError::NotFound { param: Some(p), .. } if p == "id"
        ));
        let idem = r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert!(matches!(
            error_from(&response(400, idem)),
            StripeError::Idempotency { .. }
        ));
        let unknown = r#"{"error":{"type":"invalid_request_error","code":"parameter_unknown","param":"x","message":"Received unknown parameter: x"}}"#;
        assert!(matches!(
            error_from(&response(400, unknown)),
            StripeError::InvalidRequest { code: Some(c), .. } if c == "parameter_unknown"
        ));
        let key = r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****"}}"#;
        assert!(matches!(
            error_from(&response(401, key)),
            StripeError::Call(CallError::Unauthorized { status: 401 })
        ));
        assert!(matches!(
            error_from(&response(500, r#"{"error":{"type":"api_error"}}"#)),
            StripeError::Call(CallError::Unavailable { status: 500 })
        ));
        assert!(matches!(
            error_from(&response(400, "<html>")),
            StripeError::Call(CallError::Unexpected { status: 400, .. })
        ));
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert!(segment("cus_ABC123").is_ok());
        for bad in ["", "../v1/charges", "cus_1/x", "cus_1?x=1"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
