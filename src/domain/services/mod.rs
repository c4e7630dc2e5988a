//! Service health: what the liveness probes of PostgreSQL and the upstreams saw
//! (`service_probes`, written by the `service_probe` job, kept [`HISTORY`]), read back as each
//! service's latest state and its uptime over the history. Nothing is made up: a service
//! never probed has no state, and uptime is the share of the probes actually made that
//! found the service up.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// How long probe results are kept (and the window uptime is computed over).
pub const HISTORY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

crate::text_enum! {
    /// A service the platform depends on.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "ServiceName")]
    pub enum Service {
        /// The database (always enabled).
        Postgresql = "postgresql",
        /// Single sign-on.
        Authentik = "authentik",
        /// Mail.
        Stalwart = "stalwart",
        /// Files.
        Ocis = "ocis",
        /// Billing.
        Stripe = "stripe",
    }
}

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The service.
    pub service: Service,
    /// Whether it answered correctly within the timeout.
    pub up: bool,
    /// How long the probe took, in milliseconds (the timeout when it timed out).
    pub latency_ms: i32,
    /// Why it is down (a short, secret-free description).
    pub error: Option<String>,
}

/// Records one round of probes and forgets probes older than [`HISTORY`] (two statements).
pub async fn record(conn: &mut AsyncPgConnection, probes: &[Probe]) -> diesel::QueryResult<()> {
    let services: Vec<&str> = probes.iter().map(|p| p.service.as_str()).collect();
    let ups: Vec<bool> = probes.iter().map(|p| p.up).collect();
    let latencies: Vec<i32> = probes.iter().map(|p| p.latency_ms).collect();
    let errors: Vec<Option<String>> = probes.iter().map(|p| p.error.clone()).collect();
    diesel::sql_query(
        "INSERT INTO service_probes (service, up, latency_ms, error)
         SELECT * FROM unnest($1::text[], $2::bool[], $3::int[], $4::text[])",
    )
    .bind::<Array<Text>, _>(services)
    .bind::<Array<Bool>, _>(ups)
    .bind::<Array<Integer>, _>(latencies)
    .bind::<Array<Nullable<Text>>, _>(errors)
    .execute(conn)
    .await?;
    diesel::sql_query("DELETE FROM service_probes WHERE at < now() - make_interval(secs => $1)")
        .bind::<BigInt, _>(HISTORY.as_secs() as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// A service's state as the probes know it.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct ServiceState {
    /// The service.
    #[diesel(sql_type = Text)]
    pub service: Service,
    /// When it was last probed; `None` if never (within the history).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub checked_at: Option<DateTime<Utc>>,
    /// What the last probe found.
    #[diesel(sql_type = Nullable<Bool>)]
    pub up: Option<bool>,
    /// The last probe's latency.
    #[diesel(sql_type = Nullable<Integer>)]
    pub latency_ms: Option<i32>,
    /// The last probe's error.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    /// Probes within the history.
    #[diesel(sql_type = BigInt)]
    pub probes: i64,
    /// Of which found it up.
    #[diesel(sql_type = BigInt)]
    pub up_probes: i64,
}

impl ServiceState {
    /// The share of the probes within the history that found the service up; `None` without
    /// probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0).then(|| self.up_probes as f64 / self.probes as f64)
    }
}

/// The state of every service, in [`Service::ALL`] order (one statement).
pub async fn states(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<ServiceState>> {
    let services: Vec<&str> = Service::ALL.iter().map(|s| s.as_str()).collect();
    diesel::sql_query(
        "SELECT s.service, l.at AS checked_at, l.up, l.latency_ms, l.error,
                coalesce(h.probes, 0) AS probes, coalesce(h.up_probes, 0) AS up_probes
           FROM unnest($1::text[]) WITH ORDINALITY AS s(service, n)
           LEFT JOIN LATERAL (
                SELECT at, up, latency_ms, error FROM service_probes
                 WHERE service = s.service AND at >= now() - make_interval(secs => $2)
                 ORDER BY at DESC LIMIT 1) l ON TRUE
           LEFT JOIN LATERAL (
                SELECT count(*) AS probes, count(*) FILTER (WHERE up) AS up_probes
                  FROM service_probes
                 WHERE service = s.service AND at >= now() - make_interval(secs => $2)) h ON TRUE
          ORDER BY s.n",
    )
    .bind::<Array<Text>, _>(services)
    .bind::<BigInt, _>(HISTORY.as_secs() as i64)
    .load(conn)
    .await
}

/// One recorded probe.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct ProbeRow {
    /// The service.
    #[diesel(sql_type = Text)]
    pub service: Service,
    /// When.
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    /// Up or not.
    #[diesel(sql_type = Bool)]
    pub up: bool,
    /// Latency.
    #[diesel(sql_type = Integer)]
    pub latency_ms: i32,
    /// Why it was down.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
}

/// The newest `limit` probes of each service in `services`, newest first (one statement).
pub async fn history(
    conn: &mut AsyncPgConnection,
    services: &[Service],
    limit: i64,
) -> diesel::QueryResult<Vec<ProbeRow>> {
    let services: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
    diesel::sql_query(
        "SELECT p.service, p.at, p.up, p.latency_ms, p.error
           FROM unnest($1::text[]) AS s(service)
           CROSS JOIN LATERAL (
                SELECT * FROM service_probes
                 WHERE service = s.service AND at >= now() - make_interval(secs => $3)
                 ORDER BY at DESC LIMIT $2) p
          ORDER BY p.service, p.at DESC",
    )
    .bind::<Array<Text>, _>(services)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(HISTORY.as_secs() as i64)
    .load(conn)
    .await
}
