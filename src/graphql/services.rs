//! `systemStatus.services`: the health of PostgreSQL and the upstreams as the scheduled
//! probes saw it (`crate::jobs::service_probe`); read from the recorded probes, never probed
//! on request.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context};
use chrono::{DateTime, Utc};

use crate::db::DbPool;
use crate::domain::services::{self, ProbeRow, Service, ServiceState};
use crate::error::{ApiResult, AppError};
use crate::graphql::system::SystemStatus;
use crate::upstream::Upstreams;

/// The most probes `history` returns per service.
const MAX_HISTORY: i32 = 1440;

/// One service's health.
pub struct ServiceHealth {
    state: ServiceState,
    enabled: bool,
}

/// A service the platform depends on, as its liveness probes saw it. A service never probed
/// (disabled, or the first round has not run yet) has `up`, `latencyMs` and `checkedAt`
/// null: nothing is assumed.
#[async_graphql::Object]
impl ServiceHealth {
    /// Which service.
    async fn name(&self) -> Service {
        self.state.service
    }

    /// Whether this server is configured to use it (PostgreSQL always is). Disabled services
    /// are not probed.
    async fn enabled(&self) -> bool {
        self.enabled
    }

    /// What the latest probe found; `null` if it was never probed (in the last 24 hours).
    async fn up(&self) -> Option<bool> {
        self.state.up
    }

    /// How long the latest probe took, in milliseconds (the timeout, when it timed out).
    async fn latency_ms(&self) -> Option<i32> {
        self.state.latency_ms
    }

    /// When the latest probe ran.
    async fn checked_at(&self) -> Option<DateTime<Utc>> {
        self.state.checked_at
    }

    /// Why the latest probe found it down.
    async fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    /// The share (0–1) of the probes of the last 24 hours that found it up; `null` without
    /// probes.
    async fn uptime(&self) -> Option<f64> {
        self.state.uptime()
    }

    /// How many probes of the last 24 hours `uptime` is computed from.
    async fn probe_count(&self) -> i64 {
        self.state.probes
    }

    /// The latest probes (of the last 24 hours), newest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many (default 60, at most 1440).", default = 60)] first: i32,
    ) -> ApiResult<Vec<ServiceProbe>> {
        if !(0..=MAX_HISTORY).contains(&first) {
            return Err(AppError::bad_input("first", "must be between 0 and 1440").into());
        }
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let rows = services::history(&mut conn, &[self.state.service], i64::from(first)).await?;
        Ok(rows.into_iter().map(ServiceProbe).collect())
    }
}

/// One recorded probe.
pub struct ServiceProbe(ProbeRow);

/// What one liveness probe saw.
#[async_graphql::Object]
impl ServiceProbe {
    /// When it ran.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// Whether the service answered correctly in time.
    async fn up(&self) -> bool {
        self.0.up
    }

    /// How long it took, in milliseconds.
    async fn latency_ms(&self) -> i32 {
        self.0.latency_ms
    }

    /// Why the service was down.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

#[ComplexObject]
impl SystemStatus {
    /// PostgreSQL, Authentik, Stalwart, oCIS and Stripe: their latest probe and uptime over
    /// the last 24 hours (probed by one replica every `SERVICE_PROBE_INTERVAL`).
    async fn services(&self, ctx: &Context<'_>) -> ApiResult<Vec<ServiceHealth>> {
        let upstreams = ctx.data_unchecked::<Arc<Upstreams>>();
        let mut conn = ctx.data_unchecked::<DbPool>().get().await?;
        let states = services::states(&mut conn).await?;
        Ok(states
            .into_iter()
            .map(|state| ServiceHealth {
                enabled: match state.service {
                    Service::Postgresql => true,
                    Service::Authentik => upstreams.authentik.is_some(),
                    Service::Stalwart => upstreams.stalwart.is_some(),
                    Service::Ocis => upstreams.ocis.is_some(),
                    Service::Stripe => upstreams.stripe.is_some(),
                },
                state,
            })
            .collect())
    }
}
