//! `setSubscriptionSeats` (`billing.set_seats`): tenant admins, the partner's staff and
//! operators change the seats of the tenant's Stripe subscription; a job applies it in Stripe
//! (which prorates) and mirrors the answer.

use serde_json::json;

use super::subscription::{self, SubscriptionJob};
use crate::auth::TenantAccess;
use crate::domain::audit::change::{Caller, need};
use crate::domain::tenants::TenantRow;
use crate::error::{AppError, AppResult};

/// Most seats one subscription has.
pub const MAX_SEATS: i32 = 10_000;

/// Queues the change of the seats of `tenant`'s subscription to `seats`. `stripe_configured`
/// says whether billing runs at all (without it: `CONFLICT`, nothing queued).
pub async fn set_seats(
    caller: &Caller,
    tenant: &str,
    seats: i32,
    stripe_configured: bool,
) -> AppResult<TenantRow> {
    caller
        .change("billing.set_seats", "subscription")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, row| {
                if !(1..=MAX_SEATS).contains(&seats) {
                    return Err(AppError::bad_input(
                        "input.seats",
                        format!("seats are 1 to {MAX_SEATS}"),
                    ));
                }
                let used = subscription::seats_used(tx.conn, row.id).await?;
                if seats < used {
                    return Err(AppError::bad_input(
                        "input.seats",
                        format!("{used} members are active: at least {used} seats"),
                    ));
                }
                if !stripe_configured {
                    return Err(AppError::Conflict("billing is not configured".into()));
                }
                let Some((id, current)) =
                    subscription::live_stripe_subscription(tx.conn, row.id).await?
                else {
                    return Err(AppError::Conflict(
                        "the tenant has no running subscription".into(),
                    ));
                };
                if current == seats {
                    return Err(AppError::bad_input(
                        "input.seats",
                        "the subscription already has these seats",
                    ));
                }
                let change = SubscriptionJob::Change {
                    tenant: row.id,
                    plan: row.plan.clone(),
                    seats,
                };
                subscription::queue(tx.conn, &change).await?;
                tx.audit.details = json!({
                    "subscription": id, "seats": { "from": current, "to": seats },
                });
                Ok(row)
            },
        )
        .await
}
