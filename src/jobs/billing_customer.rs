//! The customer side of the `billing_subscription` job: pushing a tenant's billing details to
//! its Stripe customer, and making a card the customer's default after a SetupIntent
//! succeeded. Both read the state when they run, so a retry or a late run writes the latest.

use super::JobEnv;
use super::billing::{Ended, failed};
use crate::domain::billing::subscription::SubscriptionJob;
use crate::domain::billing::{details, payment_method};
use crate::domain::ids::TenantId;
use crate::upstream::stripe::{CustomerDetails, StripeClient, StripeError};

/// Runs the customer-side `what` for `tenant` once.
pub(super) async fn attempt(
    env: &JobEnv,
    client: &dyn StripeClient,
    what: &SubscriptionJob,
    tenant: TenantId,
) -> Ended {
    let mut conn = match env.pool.get().await {
        Ok(conn) => conn,
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let customer = match payment_method::customer_of(&mut conn, tenant).await {
        Ok(Some(customer)) => customer,
        Ok(None) => return Ended::Done("the tenant has no Stripe customer yet"),
        Err(e) => return Ended::Retry(e.to_string()),
    };
    match what {
        SubscriptionJob::PushCustomerDetails { .. } => {
            let row = match details::by_tenants(&mut conn, &[tenant]).await {
                Ok(mut rows) => rows
                    .pop()
                    .unwrap_or_else(|| details::BillingDetailsRow::empty(tenant)),
                Err(e) => return Ended::Retry(e.to_string()),
            };
            let request = CustomerDetails {
                company: row.company,
                email: row.email,
                country: row.country,
                vat_id: row.vat_id,
            };
            match client.update_customer_details(&customer, &request).await {
                Ok(_) => Ended::Done("billing details pushed"),
                Err(e) => failed(e),
            }
        }
        SubscriptionJob::SetDefaultCard { payment_method, .. } => {
            match client
                .set_default_payment_method(&customer, payment_method)
                .await
            {
                Ok(_) => Ended::Done("default card set"),
                // Detached meanwhile, or not this customer's: nothing to make default.
                Err(StripeError::NotFound { .. } | StripeError::InvalidRequest { .. }) => {
                    Ended::Done("the card is not the customer's")
                }
                Err(e) => failed(e),
            }
        }
        SubscriptionJob::Change { .. } | SubscriptionJob::Cancel { .. } => {
            Ended::Dead("not a customer job".into())
        }
    }
}
