//! Embedded diesel migrations, applied under a PostgreSQL advisory lock so that several
//! replicas starting at once migrate exactly once.
//!
//! The lock is taken with `pg_try_advisory_lock`, polled, never with a waiting
//! `pg_advisory_lock`: a replica blocked in `pg_advisory_lock` holds a snapshot open, and a
//! `CREATE INDEX CONCURRENTLY` migration run by the lock holder waits for every such snapshot
//! to end, so the two would wait for each other for ever.

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory lock key held while migrating ("platform-api migrate" folded into an i64).
const MIGRATION_LOCK_KEY: i64 = 0x706c_6174_6d69_6772;

/// How often a replica that did not get the lock tries again.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// How long a replica waits for another one's migrations before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(600);

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Applies all pending migrations and returns the versions applied now.
#[tracing::instrument(skip_all)]
pub async fn run_pending(url: &str) -> anyhow::Result<Vec<String>> {
    use diesel::Connection as _;
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        let started = Instant::now();
        let mut waited = false;
        loop {
            let try_lock = diesel::sql_query(format!(
                "SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY}) AS locked"
            ));
            let row: Locked = diesel::RunQueryDsl::get_result(try_lock, &mut conn)?;
            if row.locked {
                break;
            }
            if !waited {
                tracing::info!("another process is migrating; waiting for it");
                waited = true;
            }
            if started.elapsed() > LOCK_WAIT {
                anyhow::bail!(
                    "another process held the migration lock for more than {} s",
                    LOCK_WAIT.as_secs()
                );
            }
            std::thread::sleep(LOCK_POLL);
        }
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        let unlock = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
        diesel::RunQueryDsl::execute(unlock, &mut conn)?;
        let applied = result?;
        for version in &applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(applied)
    })
    .await?
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The newest migration version recorded in the database.
pub async fn current_version(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Option<String>> {
    let query = diesel::sql_query(
        "SELECT version FROM __diesel_schema_migrations ORDER BY version DESC LIMIT 1",
    );
    let rows: Vec<VersionRow> = diesel_async::RunQueryDsl::load(query, conn).await?;
    Ok(rows.into_iter().next().map(|r| r.version))
}
