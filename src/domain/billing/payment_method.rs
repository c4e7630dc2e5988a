//! A tenant's payment method, through Stripe: `startPaymentMethodSetup`
//! (`billing.start_payment_method_setup`) ensures the Stripe customer and opens a SetupIntent
//! whose client secret goes to the browser only (never stored, never logged);
//! `setDefaultPaymentMethod` (`billing.set_default_payment_method`) makes one of the customer's
//! cards its default; the webhook's `setup_intent.succeeded` and `payment_method.attached|
//! detached` events keep the default in step.
//!
//! No card data is stored: the tenant row keeps the default card's `pm_…` id only, and its
//! brand, last four digits and expiry are read from Stripe when asked for.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::json;

use super::stripe_events::EventStatus;
use super::subscription::{self, SubscriptionJob};
use crate::auth::TenantAccess;
use crate::db::schema::tenants;
use crate::domain::audit::change::{Caller, need};
use crate::domain::audit::{self, Actor, AuditEntry, Outcome};
use crate::domain::ids::{PartnerId, TenantId};
use crate::error::{AppError, AppResult};
use crate::upstream::Secret;
use crate::upstream::stripe::{EnsureCustomer, NewSetupIntent, PaymentMethod, StripeClient};

/// What the browser needs to collect a card with Stripe Elements.
#[derive(Debug)]
pub struct Setup {
    /// The SetupIntent's client secret (to the caller only).
    pub client_secret: Secret,
    /// `pk_…`.
    pub publishable_key: String,
}

/// The tenant's Stripe customer id, if it has one.
pub async fn customer_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Option<String>> {
    Ok(tenants::table
        .find(tenant)
        .select(tenants::stripe_customer_id)
        .first::<Option<String>>(conn)
        .await
        .optional()?
        .flatten())
}

/// `(customer, default card)` of the tenant.
pub async fn default_card_of(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<(Option<String>, Option<String>)> {
    Ok(tenants::table
        .find(tenant)
        .select((
            tenants::stripe_customer_id,
            tenants::stripe_payment_method_id,
        ))
        .first(conn)
        .await
        .optional()?
        .unwrap_or((None, None)))
}

/// The card `id` of the tenant's customer as Stripe has it (`None`: not the customer's).
pub async fn card(
    client: &dyn StripeClient,
    customer: &str,
    id: &str,
) -> AppResult<Option<PaymentMethod>> {
    let cards = client.list_card_payment_methods(customer).await?;
    Ok(cards.into_iter().find(|c| c.id == id))
}

fn is_payment_method_id(id: &str) -> bool {
    id.strip_prefix("pm_").is_some_and(|rest| {
        (1..=250).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// Opens a SetupIntent for `tenant`'s customer (created on demand). `client` is `None` when
/// billing is not configured (`CONFLICT`, nothing called).
pub async fn start_setup(
    caller: &Caller,
    tenant: &str,
    client: Option<Arc<dyn StripeClient>>,
    publishable_key: Option<String>,
) -> AppResult<Setup> {
    caller
        .change("billing.start_payment_method_setup", "tenant")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, row| {
                let (Some(client), Some(publishable_key)) = (client, publishable_key) else {
                    return Err(AppError::Conflict("billing is not configured".into()));
                };
                let known = customer_of(tx.conn, row.id).await?;
                // The same request as the provisioning step's, so both find one customer.
                let request = EnsureCustomer {
                    tenant_id: row.id.to_string(),
                    existing_id: known.clone(),
                    email: None,
                    name: row.name.clone(),
                };
                let customer = client.ensure_customer(&request).await?;
                if known.as_deref() != Some(customer.id.as_str()) {
                    diesel::update(tenants::table.find(row.id))
                        .set(tenants::stripe_customer_id.eq(&customer.id))
                        .execute(tx.conn)
                        .await?;
                    // A new customer gets the billing details the tenant already has.
                    let push = SubscriptionJob::PushCustomerDetails { tenant: row.id };
                    subscription::queue(tx.conn, &push).await?;
                }
                let intent = client
                    .create_setup_intent(&NewSetupIntent {
                        customer_id: customer.id.clone(),
                        idempotency_key: format!("dezky-setup-{}", uuid::Uuid::new_v4()),
                    })
                    .await?;
                tx.audit.details = json!({
                    "customer": customer.id, "setupIntent": intent.id,
                    "customerCreated": known.is_none(),
                });
                Ok(Setup {
                    client_secret: intent.client_secret,
                    publishable_key,
                })
            },
        )
        .await
}

/// Makes the card `payment_method` the default of `tenant`'s customer. A card that is not
/// this customer's is `NOT_FOUND` and nothing is written in Stripe. `client` is `None` when
/// billing is not configured (`CONFLICT`).
pub async fn set_default(
    caller: &Caller,
    tenant: &str,
    payment_method: &str,
    client: Option<Arc<dyn StripeClient>>,
) -> AppResult<crate::domain::tenants::TenantRow> {
    caller
        .change("billing.set_default_payment_method", "tenant")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, row| {
                if !is_payment_method_id(payment_method) {
                    return Err(AppError::bad_input(
                        "input.paymentMethod",
                        "not a payment method id (pm_…)",
                    ));
                }
                let Some(client) = client else {
                    return Err(AppError::Conflict("billing is not configured".into()));
                };
                tx.audit.details = json!({ "paymentMethod": payment_method });
                let Some(customer) = customer_of(tx.conn, row.id).await? else {
                    return Err(AppError::NotFound {
                        what: "payment method",
                    });
                };
                if card(client.as_ref(), &customer, payment_method)
                    .await?
                    .is_none()
                {
                    return Err(AppError::NotFound {
                        what: "payment method",
                    });
                }
                client
                    .set_default_payment_method(&customer, payment_method)
                    .await?;
                diesel::update(tenants::table.find(row.id))
                    .set(tenants::stripe_payment_method_id.eq(payment_method))
                    .execute(tx.conn)
                    .await?;
                Ok(row)
            },
        )
        .await
}

/// The SetupIntent or PaymentMethod of an event (only what is read).
#[derive(Debug, Deserialize)]
struct EventObject {
    id: String,
    customer: Option<String>,
    payment_method: Option<serde_json::Value>,
}

async fn tenant_by_customer(
    conn: &mut AsyncPgConnection,
    customer: &str,
) -> AppResult<Option<(TenantId, Option<PartnerId>, Option<String>)>> {
    Ok(tenants::table
        .filter(tenants::stripe_customer_id.eq(customer))
        .select((
            tenants::id,
            tenants::partner_id,
            tenants::stripe_payment_method_id,
        ))
        .first(conn)
        .await
        .optional()?)
}

/// Applies `setup_intent.succeeded` and `payment_method.attached|detached`: a succeeded
/// SetupIntent's card becomes the default (recorded here, set in Stripe by a job); a detached
/// default card is forgotten. `Ok(Err(reason))` for an event that cannot be applied.
pub async fn sync_event(
    conn: &mut AsyncPgConnection,
    event_id: &str,
    kind: &str,
    object: serde_json::Value,
) -> AppResult<Result<EventStatus, String>> {
    let object: EventObject = match serde_json::from_value(object) {
        Ok(object) => object,
        Err(e) => return Ok(Err(format!("not a setup intent or payment method: {e}"))),
    };
    let found = match (kind, &object.customer) {
        // A detached card has no customer any more: find the tenant whose default it was.
        ("payment_method.detached", _) => tenants::table
            .filter(tenants::stripe_payment_method_id.eq(&object.id))
            .select((
                tenants::id,
                tenants::partner_id,
                tenants::stripe_payment_method_id,
            ))
            .first(conn)
            .await
            .optional()?,
        (_, Some(customer)) => tenant_by_customer(conn, customer).await?,
        (_, None) => None,
    };
    let Some((tenant, partner, default)) = found else {
        return Ok(Ok(EventStatus::Ignored));
    };
    let (action, target, details) = match kind {
        "setup_intent.succeeded" => {
            let pm = match &object.payment_method {
                Some(serde_json::Value::String(id)) => id.clone(),
                Some(other) => other["id"].as_str().unwrap_or_default().to_owned(),
                None => String::new(),
            };
            if !is_payment_method_id(&pm) {
                return Ok(Err(
                    "a succeeded SetupIntent without a payment method".into()
                ));
            }
            diesel::update(tenants::table.find(tenant))
                .set(tenants::stripe_payment_method_id.eq(&pm))
                .execute(conn)
                .await?;
            let set = SubscriptionJob::SetDefaultCard {
                tenant,
                payment_method: pm.clone(),
            };
            subscription::queue(conn, &set).await?;
            (
                "billing.payment_method.setup_succeeded",
                object.id.clone(),
                json!({ "event": event_id, "setupIntent": object.id, "paymentMethod": pm }),
            )
        }
        "payment_method.detached" => {
            if default.as_deref() == Some(object.id.as_str()) {
                diesel::update(tenants::table.find(tenant))
                    .set(tenants::stripe_payment_method_id.eq(None::<String>))
                    .execute(conn)
                    .await?;
            }
            (
                "billing.payment_method.detached",
                object.id.clone(),
                json!({ "event": event_id, "paymentMethod": object.id, "wasDefault": true }),
            )
        }
        _ => (
            "billing.payment_method.attached",
            object.id.clone(),
            json!({ "event": event_id, "paymentMethod": object.id }),
        ),
    };
    let entry = AuditEntry {
        action,
        target_type: "payment_method",
        target_id: Some(target),
        tenant_id: Some(tenant),
        partner_id: partner,
        outcome: Outcome::Success,
        details,
    };
    audit::record(conn, &Actor::default(), &entry).await?;
    Ok(Ok(EventStatus::Applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_method_ids_are_checked() {
        assert!(is_payment_method_id("pm_1Abc_2"));
        for bad in ["", "pm_", "card_1", "pm_1/../x", "seti_1"] {
            assert!(!is_payment_method_id(bad), "{bad}");
        }
    }
}
