//! The `billing_subscription` job: changes (plan, seats; Stripe prorates) or cancels at the
//! period's end a tenant's Stripe subscription, then mirrors Stripe's answer
//! (`domain::billing::subscription`). Without Stripe configured there is nothing to do.

use diesel_async::AsyncConnection;

use super::JobEnv;
use crate::domain::billing::subscription::{self as subs, SubscriptionJob};
use crate::domain::ids::TenantId;
use crate::domain::jobs::{self as queue, ClaimedJob, Settle};
use crate::metrics::JobOutcome;
use crate::upstream::stripe::{ChangeSubscription, StripeError};

/// How one attempt ended, before it is settled.
pub(super) enum Ended {
    Done(&'static str),
    Retry(String),
    Dead(String),
}

/// Runs one attempt; `Ok` with how the job ended.
pub async fn run(env: &JobEnv, job: &ClaimedJob, worker: &str) -> anyhow::Result<JobOutcome> {
    let ended = match serde_json::from_value::<SubscriptionJob>(job.payload.clone()) {
        Err(_) => Ended::Dead("malformed job payload".into()),
        Ok(what) => attempt(env, job, &what).await,
    };
    let (how, outcome) = match ended {
        Ended::Done(what) => {
            tracing::info!(what, "subscription job done");
            (Settle::Done, JobOutcome::Done)
        }
        Ended::Retry(why) if !job.is_last_attempt() => {
            tracing::warn!(error = %why, "subscription job failed; will retry");
            let delay = env
                .config
                .backoff(u32::try_from(job.attempts).unwrap_or(1), 0.5);
            (Settle::RetryAfter(delay, why), JobOutcome::Retried)
        }
        Ended::Retry(why) | Ended::Dead(why) => {
            tracing::error!(error = %why, "subscription job dead");
            (Settle::Dead(why), JobOutcome::Dead)
        }
    };
    let mut conn = env.pool.get().await?;
    let how = &how;
    let settled = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
            if !queue::hold(conn, job.id, worker).await? {
                return Ok(false);
            }
            queue::settle(conn, job.id, how).await?;
            Ok(true)
        })
        .await?;
    Ok(if settled {
        outcome
    } else {
        JobOutcome::Abandoned
    })
}

pub(super) fn failed(e: StripeError) -> Ended {
    if matches!(e, StripeError::Call(_)) {
        Ended::Retry(format!("stripe: {e}"))
    } else {
        Ended::Dead(format!("stripe: {e}"))
    }
}

async fn attempt(env: &JobEnv, job: &ClaimedJob, what: &SubscriptionJob) -> Ended {
    let Some(client) = &env.upstreams.stripe else {
        return Ended::Done("stripe is not configured");
    };
    let tenant: TenantId = match what {
        SubscriptionJob::Change { tenant, .. } | SubscriptionJob::Cancel { tenant } => *tenant,
        SubscriptionJob::PushCustomerDetails { tenant }
        | SubscriptionJob::SetDefaultCard { tenant, .. } => {
            return super::billing_customer::attempt(env, client.as_ref(), what, *tenant).await;
        }
    };
    let mut conn = match env.pool.get().await {
        Ok(conn) => conn,
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let current = match subs::current(&mut conn, tenant).await {
        Ok(Some(current)) => current,
        Ok(None) => return Ended::Done("the tenant has no Stripe subscription"),
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let answer = match what {
        SubscriptionJob::Cancel { .. } => {
            client
                .cancel_subscription_at_period_end(&current.stripe_id)
                .await
        }
        SubscriptionJob::PushCustomerDetails { .. } | SubscriptionJob::SetDefaultCard { .. } => {
            return Ended::Dead("not a subscription job".into());
        }
        SubscriptionJob::Change { plan, seats, .. } => {
            let price =
                subs::stripe_price(&mut conn, plan, &current.currency, current.billing_cycle).await;
            let price_id = match price {
                Ok(Some(id)) => id,
                Ok(None) => {
                    return Ended::Dead(format!(
                        "plan {plan} has no Stripe price in {} {}",
                        current.currency, current.billing_cycle
                    ));
                }
                Err(e) => return Ended::Retry(e.to_string()),
            };
            let request = ChangeSubscription {
                id: current.stripe_id.clone(),
                price_id,
                quantity: u32::try_from(*seats).unwrap_or(1),
                plan: plan.clone(),
                idempotency_key: format!("dezky-subscription-change-{}", job.id),
            };
            client.change_subscription(&request).await
        }
    };
    let sub = match answer {
        Ok(sub) => sub,
        Err(e) => return failed(e),
    };
    match subs::mirror(&mut conn, tenant, &sub).await {
        Ok(Ok(())) => Ended::Done("mirrored"),
        Ok(Err(why)) => Ended::Dead(why),
        Err(e) => Ended::Retry(e.to_string()),
    }
}
