//! The PostgreSQL connection pool (deadpool through diesel-async).
//!
//! Every connection counts the statements it sends into [`Metrics`], which is how tests and
//! benchmarks observe N+1 queries from the outside, and runs with the configured
//! `statement_timeout` and an `application_name`, both set through the connection string so
//! they cost no extra round trip. A connection whose statement was abandoned (its future
//! dropped) is never handed out again: see [`super::inflight`].

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::inflight::{self, ConnState};
use crate::config::DatabaseConfig;
use crate::metrics::Metrics;

/// The pool type used everywhere.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type DbConn = Object<AsyncPgConnection>;

/// Builds the pool. Connections are opened lazily, on first use.
pub fn build_pool(
    config: &DatabaseConfig,
    url: &str,
    metrics: Arc<Metrics>,
) -> anyhow::Result<DbPool> {
    let url = with_session_settings(url, config.statement_timeout);
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` per checkout (`Verified`): it would make statement counts depend on pool
    // behaviour. The check below is what `Fast` does plus the statements in flight.
    // `CustomFunction` adds no statement either: it only reads the connection's counters.
    manager_config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
        let reusable = conn
            .instrumentation()
            .downcast_ref::<StatementCounter>()
            .is_none_or(|counter| inflight::is_reusable(&counter.conn));
        Box::pin(async move {
            if reusable {
                Ok(())
            } else {
                Err(diesel::result::Error::BrokenTransactionManager)
            }
        })
    }));
    manager_config.custom_setup = Box::new(move |url| {
        let metrics = Arc::clone(&metrics);
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            let state = ConnState::new(conn.cancel_token());
            conn.set_instrumentation(StatementCounter {
                metrics,
                conn: state,
            });
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(config.pool_wait_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the database pool: {e}"))
}

/// Counts every statement a connection sends, and the ones in flight.
struct StatementCounter {
    metrics: Arc<Metrics>,
    conn: Arc<ConnState>,
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.metrics.record_statement();
                self.conn.started();
            }
            InstrumentationEvent::FinishQuery { .. } => self.conn.finished(),
            _ => {}
        }
    }
}

/// Adds `application_name` and `statement_timeout` to a connection string, in URL or
/// key/value form.
pub fn with_session_settings(url: &str, statement_timeout: Duration) -> String {
    let ms = statement_timeout.as_millis();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}application_name=platform-api&options=-c%20statement_timeout%3D{ms}")
    } else {
        format!("{url} application_name=platform-api options='-c statement_timeout={ms}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_appended_in_both_forms() {
        let t = Duration::from_millis(1500);
        assert_eq!(
            with_session_settings("postgres://u@/db?host=/tmp/x", t),
            "postgres://u@/db?host=/tmp/x&application_name=platform-api&options=-c%20statement_timeout%3D1500"
        );
        assert_eq!(
            with_session_settings("postgres://u@h/db", t),
            "postgres://u@h/db?application_name=platform-api&options=-c%20statement_timeout%3D1500"
        );
        assert_eq!(
            with_session_settings("host=/tmp dbname=x", t),
            "host=/tmp dbname=x application_name=platform-api options='-c statement_timeout=1500'"
        );
    }
}
