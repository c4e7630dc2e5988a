//! Builds the application: state, schema and router. `main` and the integration tests both
//! go through [`Application::build`], so tests exercise exactly what production runs.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::TokenVerifier;
use crate::auth::context::AuthServices;
use crate::auth::dev_issuer::{self, DevIssuer};
use crate::auth::impersonation::ImpersonationKeys;
use crate::config::Config;
use crate::db::{DbPool, pool};
use crate::events::feed::ProvisioningFeed;
use crate::graphql::{self, ApiSchema};
use crate::jobs::{JobEnv, Workers};
use crate::metrics::Metrics;
use crate::upstream::Upstreams;

/// Everything a request handler may need; immutable after start.
pub struct App {
    /// The configuration the process started with.
    pub config: Arc<Config>,
    /// The database pool.
    pub pool: DbPool,
    /// The upstream clients (Authentik, Stalwart, oCIS, Stripe); disabled ones are `None`.
    pub upstreams: Arc<Upstreams>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// The executable schema.
    pub schema: ApiSchema,
    /// Token verification.
    pub auth: Arc<AuthServices>,
    /// The development issuer, when no real issuers are configured (never in production).
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// This server's impersonation signing keys (RFC 8693 token exchange).
    pub impersonation: Arc<ImpersonationKeys>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Change events from every replica (LISTEN/NOTIFY).
    pub events: crate::events::EventHub,
    /// Live WebSocket connections, awaited during shutdown.
    pub ws_tasks: TaskTracker,
    /// This process's job workers (none for an API-only replica).
    pub workers: tokio::sync::Mutex<Option<Workers>>,
}

/// Shared handle to [`App`].
pub type AppState = Arc<App>;

/// A bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds the state and binds `config.bind_addr`. The database must already be migrated.
    pub async fn build(config: Config, database_url: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind_addr))?;
        let local_addr = listener.local_addr()?;
        let (issuers, dev_issuer) = if config.auth.uses_dev_issuer() {
            let issuer = dev_issuer::issuer_url(local_addr);
            let dev = DevIssuer::load_or_create(&config.data_dir, issuer.clone())?;
            tracing::warn!(%issuer, "no AUTH_ISSUERS: trusting the development issuer (platform-api dev-token)");
            (vec![issuer], Some(Arc::new(dev)))
        } else {
            (config.auth.issuers.clone(), None)
        };
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let pool = pool::build_pool(&config.database, database_url, Arc::clone(&metrics))?;
        let impersonation = Arc::new(ImpersonationKeys::new(
            pool.clone(),
            config.auth.impersonation_key_rotation,
            config.auth.impersonation_max_ttl,
            config.auth.leeway,
        ));
        let auth = Arc::new(AuthServices {
            verifier: TokenVerifier::new(&issuers, &config.auth)
                .with_impersonation(Arc::clone(&impersonation)),
            admin_group: config.auth.admin_group.clone(),
            geoip: match &config.security.geoip_database {
                Some(path) => Some(Arc::new(crate::domain::security::geoip::GeoIp::open(path)?)),
                None => None,
            },
        });
        let shutdown = CancellationToken::new();
        let events = crate::events::EventHub::start(database_url.to_owned(), shutdown.clone());
        let upstreams = Arc::new(Upstreams::from_config(&config.upstreams)?);
        for (name, status) in upstreams.statuses() {
            tracing::info!(
                upstream = name,
                status = status.as_str(),
                "upstream configuration"
            );
        }
        let dns = crate::upstream::dns::DnsClient::new(&config.domains.dns)?;
        let sealing = Arc::new(crate::domain::members::sealing::SealingKey::load(
            config.secret_key.as_ref(),
            &config.data_dir,
        )?);
        // One bound and cache for the security area's upstream reads, in requests and jobs.
        let reads = Arc::new(crate::domain::security::upstream_reads::UpstreamReads::new(
            &config.security,
        ));
        let schema = graphql::schema_builder(&config.graphql)
            .extension(graphql::observe::Observe::new(Arc::clone(&metrics)))
            .extension(graphql::cost_report::CostReport {
                limit: config.graphql.max_complexity,
                anyone: config.app_env == crate::config::AppEnv::Development,
            })
            .extension(graphql::rate_limit::RateLimit {
                limits: Arc::new(crate::http::limits::rate::RateLimits::new(&config.limits)),
                cost_unit: config.limits.cost_unit,
            })
            .data(pool.clone())
            .data(Arc::clone(&metrics))
            .data(Arc::clone(&auth))
            .data(Arc::clone(&impersonation))
            .data(Arc::clone(&config))
            .data(events.clone())
            .data(Arc::clone(&upstreams))
            .data(Arc::clone(&dns))
            .data(Arc::clone(&sealing))
            .data(Arc::clone(&reads))
            .data(crate::events::feed::MemberFeed::start(
                &events,
                pool.clone(),
                shutdown.clone(),
            ))
            .data(ProvisioningFeed::start(
                &events,
                pool.clone(),
                shutdown.clone(),
            ))
            .finish();
        if config.jobs.workers > 0 {
            // Domains no recheck run knows of yet (e.g. copied from `tenants.primary_domain`).
            let mut conn = pool.get().await?;
            crate::jobs::domains::recheck::queue_if_domains(&mut conn).await?;
            crate::jobs::retention::queue_run(&mut conn, crate::jobs::retention::FIRST_RUN_AFTER)
                .await?;
            crate::jobs::service_probe::queue_run(&mut conn, config.jobs.service_probe_interval)
                .await?;
            if upstreams.authentik.is_some() && !config.security.mfa_snapshot_interval.is_zero() {
                crate::jobs::mfa_snapshot::queue_run(
                    &mut conn,
                    crate::jobs::mfa_snapshot::FIRST_RUN_AFTER,
                )
                .await?;
            }
        }
        let workers = Workers::start(
            JobEnv {
                pool: pool.clone(),
                upstreams: Arc::clone(&upstreams),
                config: config.jobs.clone(),
                metrics: Arc::clone(&metrics),
                dns,
                domains: config.domains.clone(),
                sealing,
                reads,
                security: config.security.clone(),
            },
            &events,
            &shutdown,
        );
        let state = Arc::new(App {
            config,
            pool,
            upstreams,
            metrics,
            schema,
            auth,
            dev_issuer,
            impersonation,
            events,
            shutdown,
            ws_tasks: TaskTracker::new(),
            workers: tokio::sync::Mutex::new(Some(workers)),
        });
        Ok(Self { listener, state })
    }

    /// The address actually bound (port 0 resolves here).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state (tests read metrics and trigger shutdown through it).
    pub fn state(&self) -> AppState {
        Arc::clone(&self.state)
    }

    /// Serves until `state.shutdown` is cancelled, then stops accepting, lets in-flight
    /// requests finish, closes WebSockets with 1001 and lets the workers settle the jobs in
    /// hand, all within one `SHUTDOWN_GRACE_MS` from the signal: what is still running then
    /// (a pathological request, a stuck job) is dropped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { listener, state } = self;
        let router = crate::http::router(Arc::clone(&state));
        let shutdown = state.shutdown.clone();
        let grace = state.config.shutdown_grace;
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future();
        let began = std::sync::OnceLock::new();
        tokio::select! {
            result = serve => result?,
            () = async {
                shutdown.cancelled().await;
                began.get_or_init(tokio::time::Instant::now);
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("in-flight requests did not finish within the grace period; closing them");
            }
        }
        let deadline = *began.get_or_init(tokio::time::Instant::now) + grace;
        let workers = state.workers.lock().await.take();
        state.ws_tasks.close();
        let (jobs, sockets) = tokio::join!(
            async {
                // Workers finish the job in hand (each attempt is bounded by the upstream
                // timeouts).
                match workers {
                    Some(workers) => tokio::time::timeout_at(deadline, workers.stop())
                        .await
                        .is_ok(),
                    None => true,
                }
            },
            tokio::time::timeout_at(deadline, state.ws_tasks.wait()),
        );
        if !jobs {
            tracing::warn!(
                "some jobs did not settle within the grace period; their leases will expire"
            );
        }
        if sockets.is_err() {
            tracing::warn!("some WebSocket connections did not close within the grace period");
        }
        state.pool.close();
        Ok(())
    }
}
