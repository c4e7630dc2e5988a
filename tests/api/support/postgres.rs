//! PostgreSQL for tests.
//!
//! `DATABASE_URL` (URL form, a role that may `CREATE DATABASE`) is used when set; otherwise
//! the embedded cluster is started under `$TMPDIR/platform-api-test-pg-<uid>` with fsync off
//! (shared by every checkout of the same user) and stopped at exit (see `teardown`). Once per process a template database is migrated (named
//! after a hash of `migrations/`, created under an advisory lock and published by rename, so
//! concurrent test processes agree); every test then gets `CREATE DATABASE … TEMPLATE …`,
//! dropped when the [`TestDb`] drops.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use platform_api::db::embedded::{Durability, EmbeddedPostgres};
use platform_api::db::migrate;
use tokio::sync::OnceCell;

/// The server tests run against.
pub struct Server {
    /// URL of any database on the server, with `{db}` where the name goes.
    url_pattern: String,
    /// Name of the migrated template.
    template: String,
    /// Keeps the embedded cluster's shared lock for the life of the process.
    embedded: Option<EmbeddedPostgres>,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl Server {
    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        self.url_pattern.replace("{db}", database)
    }

    async fn admin(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url("postgres"))
            .await
            .expect("connect to the admin database")
    }
}

/// The embedded cluster this process started or joined, if any.
pub fn embedded() -> Option<&'static EmbeddedPostgres> {
    SERVER.get()?.embedded.as_ref()
}

/// The server, started and templated on first use.
pub async fn server() -> &'static Server {
    SERVER.get_or_init(init).await
}

async fn init() -> Server {
    let (url_pattern, embedded) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
    {
        Some(url) => (url_with_database_placeholder(&url), None),
        None => {
            let uid = std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!("platform-api-test-pg-{uid}"));
            let pg = EmbeddedPostgres::start(dir, Durability::Fast)
                .await
                .expect("start embedded PostgreSQL");
            super::teardown::register();
            (pg.url("{db}"), Some(pg))
        }
    };
    let mut server = Server {
        url_pattern,
        template: template_name(),
        embedded,
    };
    ensure_template(&mut server).await;
    sweep_leftovers(&server).await;
    server
}

/// `postgres://u@h/db?x` → `postgres://u@h/{db}?x`.
fn url_with_database_placeholder(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(scheme_end);
    let path_start = rest.find('/').unwrap_or(rest.len());
    let query_start = rest.find('?').unwrap_or(rest.len()).max(path_start);
    format!(
        "{head}{}/{{db}}{}",
        &rest[..path_start],
        &rest[query_start..]
    )
}

fn template_name() -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    for file in files {
        file.to_string_lossy().hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    format!("pa_tpl_{:016x}", hasher.finish())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

async fn database_names(conn: &mut AsyncPgConnection, like: &str) -> Vec<String> {
    diesel::sql_query("SELECT datname::text AS datname FROM pg_database WHERE datname LIKE $1")
        .bind::<diesel::sql_types::Text, _>(like)
        .load::<Name>(conn)
        .await
        .expect("list databases")
        .into_iter()
        .map(|n| n.datname)
        .collect()
}

async fn ensure_template(server: &mut Server) {
    let mut admin = server.admin().await;
    diesel::sql_query("SELECT pg_advisory_lock(4242424242)")
        .execute(&mut admin)
        .await
        .expect("lock");
    if database_names(&mut admin, &server.template)
        .await
        .is_empty()
    {
        let building = format!("{}_building", server.template);
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop half-built template");
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .expect("create template");
        migrate::run_pending(&server.url(&building))
            .await
            .expect("migrate template");
        diesel::sql_query(format!(
            "ALTER DATABASE {building} RENAME TO {}",
            server.template
        ))
        .execute(&mut admin)
        .await
        .expect("publish template");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(4242424242)")
        .execute(&mut admin)
        .await
        .expect("unlock");
}

/// Drops test databases left by processes that no longer run (crashed or killed runs).
async fn sweep_leftovers(server: &Server) {
    let mut admin = server.admin().await;
    for name in database_names(&mut admin, "pa_t\\_%").await {
        let pid = name
            .strip_prefix("pa_t_")
            .and_then(|r| r.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = diesel::sql_query(sql).execute(&mut admin).await;
        }
    }
}

/// `pa_t_<pid>_<n>`: the pid lets a later run drop what a crashed one left.
fn next_name() -> String {
    format!(
        "pa_t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own for one test, dropped on drop.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    /// Whether dropping this handle drops the database (false for [`TestDb::shared`]).
    owned: bool,
}

impl TestDb {
    /// Clones the template into a fresh database.
    pub async fn create() -> Self {
        let server = server().await;
        let name = next_name();
        let mut admin = server.admin().await;
        let sql = format!("CREATE DATABASE {name} TEMPLATE {}", server.template);
        let mut attempt = 0;
        loop {
            match diesel::sql_query(&sql).execute(&mut admin).await {
                Ok(_) => break,
                // Another session briefly holds the template (55006): try again.
                Err(e)
                    if attempt < 50 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        Self {
            url: server.url(&name),
            admin_url: server.url("postgres"),
            name,
            owned: true,
        }
    }

    /// A fresh database with no tables at all (from `template0`), for migration tests.
    pub async fn create_empty() -> Self {
        let server = server().await;
        let name = next_name();
        let mut admin = server.admin().await;
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE template0"))
            .execute(&mut admin)
            .await
            .expect("create empty database");
        Self {
            url: server.url(&name),
            admin_url: server.url("postgres"),
            name,
            owned: true,
        }
    }

    /// Another handle on the same database that does not drop it (for a second app
    /// process on one database); the original must outlive it.
    pub fn shared(&self) -> Self {
        Self {
            name: self.name.clone(),
            url: self.url.clone(),
            admin_url: self.admin_url.clone(),
            owned: false,
        }
    }

    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A direct connection, for arranging data and inspecting what the app wrote.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime; do the async work on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin_url).await.ok()?;
                diesel::sql_query(sql).execute(&mut conn).await.ok()
            })
        })
        .join();
    }
}

#[test]
fn database_urls_get_a_placeholder() {
    assert_eq!(
        url_with_database_placeholder("postgres://u:p@h:5/db?sslmode=disable"),
        "postgres://u:p@h:5/{db}?sslmode=disable"
    );
    assert_eq!(
        url_with_database_placeholder("postgres://u@h"),
        "postgres://u@h/{db}"
    );
    assert_eq!(
        url_with_database_placeholder("postgres://u@/db?host=/tmp/x"),
        "postgres://u@/{db}?host=/tmp/x"
    );
}
