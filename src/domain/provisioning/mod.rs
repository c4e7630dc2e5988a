//! Tenant provisioning: the per-tenant steps (one upstream object each), their state, the
//! append-only event log behind `provisioningProgress`, and the mutations that re-run steps.
//!
//! A run: `createTenant` (or `reconcileTenant` / `retryProvisioningStep`) marks steps
//! `pending` and queues one job per step in its own transaction ([`state::queue_steps`]).
//! A worker runs each job (`crate::jobs::provisioning`): `running`, then `ok` / `skipped`,
//! or back to `pending` with a backoff, or `error` after the last attempt. When no step is
//! pending or running any more, the run ends with one terminal event, and a `pending`
//! tenant whose steps are all `ok` or `skipped` becomes `active`.

pub mod changes;
pub mod state;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::domain::ids::TenantId;

use crate::db::schema::{provisioning_events, provisioning_steps};

crate::text_enum! {
    /// One upstream object a tenant needs.
    #[derive(async_graphql::Enum, PartialOrd, Ord)]
    #[graphql(name = "ProvisioningStepName")]
    pub enum Step {
        /// The tenant's group in Authentik (single sign-on).
        AuthentikGroup = "authentik_group",
        /// The tenant's primary mail domain in Stalwart; skipped when the tenant has none.
        StalwartDomain = "stalwart_domain",
        /// The tenant's project space in oCIS (files).
        OcisSpace = "ocis_space",
        /// The tenant's customer in Stripe (billing).
        StripeCustomer = "stripe_customer",
        /// The tenant's subscription in Stripe; queued when the customer step is done and
        /// the tenant's plan has a Stripe price (EUR, monthly).
        StripeSubscription = "stripe_subscription",
    }
}

impl Step {
    /// The steps a run starts with, together; `stripe_subscription` follows the customer.
    pub const FIRST: &'static [Self] = &[
        Self::AuthentikGroup,
        Self::StalwartDomain,
        Self::OcisSpace,
        Self::StripeCustomer,
    ];
}

pub use crate::domain::steps::StepStatus;

/// A `provisioning_steps` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = provisioning_steps)]
pub struct StepRow {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Which step.
    pub step: Step,
    /// Where it stands.
    pub status: StepStatus,
    /// Attempts of the current run.
    pub attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The upstream object's id.
    pub upstream_id: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A `provisioning_events` row.
#[derive(Queryable, Selectable, QueryableByName, Debug, Clone, PartialEq)]
#[diesel(table_name = provisioning_events)]
pub struct EventRow {
    /// Global id (what NOTIFY carries).
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Per-tenant sequence number, from 1.
    pub seq: i32,
    /// The step; `None` for the tenant as a whole.
    pub step: Option<Step>,
    /// Its status.
    pub status: StepStatus,
    /// What happened, for people.
    pub message: Option<String>,
    /// The last event of a run.
    pub terminal: bool,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(*step));
        }
        assert_eq!(Step::parse("nope"), None);
        for status in ["pending", "running", "ok", "skipped", "error"] {
            assert_eq!(StepStatus::parse(status).unwrap().as_str(), status);
        }
        assert!(!StepStatus::Running.is_settled());
        assert!(StepStatus::Error.is_settled());
    }
}
