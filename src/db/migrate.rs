//! Embedded diesel migrations, applied under a PostgreSQL advisory lock so that several
//! replicas starting at once migrate exactly once.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory lock key held while migrating ("platform-api migrate" folded into an i64).
const MIGRATION_LOCK_KEY: i64 = 0x706c_6174_6d69_6772;

/// Applies all pending migrations and returns the versions applied now.
#[tracing::instrument(skip_all)]
pub async fn run_pending(url: &str) -> anyhow::Result<Vec<String>> {
    use diesel::Connection as _;
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        let lock = diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"));
        diesel::RunQueryDsl::execute(lock, &mut conn)?;
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
