//! A private PostgreSQL cluster started from the machine's own binaries, used when
//! `DATABASE_URL` is unset (by `serve` and by the test suite).
//!
//! - Binaries: `initdb`/`pg_ctl` on `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
//! - The cluster lives in one directory (`$DATA_DIR/postgres`), is initialised once, and
//!   listens only on a Unix socket inside that directory (no TCP port is taken).
//! - As root, the cluster runs as the `postgres` system user (PostgreSQL refuses root).
//! - A cluster that is already running (a previous process was killed) is reused; a stale
//!   `postmaster.pid` left by a crashed server is recovered by `pg_ctl` itself.
//! - Processes using the cluster hold a shared `flock` on `<dir>.lock`; the last one to
//!   stop (the one that can take the lock exclusively) stops the cluster.

use std::fs::{self, File};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PostgreSQL defaults (for `serve`).
    Durable,
    /// `fsync`, `synchronous_commit` and `full_page_writes` off: for throwaway test data.
    Fast,
}

/// What can go wrong while starting the cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No server binaries on this machine.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under \
         /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install -y postgresql`) \
         or set DATABASE_URL to an existing server"
    )]
    NoBinaries,
    /// Running as root but there is no `postgres` user to run the cluster as.
    #[error(
        "running as root, but there is no `postgres` system user to run the embedded cluster as \
         (install the postgresql package, or set DATABASE_URL)"
    )]
    NoPostgresUser,
    /// The Unix socket path would exceed the kernel's limit.
    #[error(
        "the data directory path {0} is too long for a Unix socket; set DATA_DIR to a shorter path"
    )]
    PathTooLong(PathBuf),
    /// The directory exists, is not empty and is not a cluster.
    #[error(
        "{0} exists and is not a PostgreSQL data directory; empty it or choose another DATA_DIR"
    )]
    NotACluster(PathBuf),
    /// A command failed.
    #[error("{what} failed: {detail}")]
    Command {
        /// Which step.
        what: String,
        /// Its output or the log tail.
        detail: String,
    },
    /// File system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// A running embedded cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
    /// Shared lock held for as long as this process uses the cluster.
    lock: File,
}

impl EmbeddedPostgres {
    /// Initialises (once) and starts (or reuses) the cluster in `dir`.
    pub async fn start(dir: PathBuf, durability: Durability) -> Result<Self, EmbeddedError> {
        tokio::task::spawn_blocking(move || Self::start_blocking(&dir, durability))
            .await
            .map_err(|e| EmbeddedError::Command {
                what: "embedded start".into(),
                detail: e.to_string(),
            })?
    }

    fn start_blocking(dir: &Path, durability: Durability) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::NoBinaries)?;
        let run_as = if running_as_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
        let parent = parent
            .canonicalize()
            .map_err(io(format!("resolving {}", parent.display())))?;
        let dir = parent.join(dir.file_name().unwrap_or("postgres".as_ref()));
        if dir.join(".s.PGSQL.5432").as_os_str().len() > 100 {
            return Err(EmbeddedError::PathTooLong(dir));
        }
        let lock_path = dir.with_extension("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("opening {}", lock_path.display())))?;
        lock.lock().map_err(io("locking the embedded cluster"))?;
        let this = Self {
            dir,
            bin_dir,
            run_as,
            lock,
        };
        this.init_once()?;
        this.write_settings(durability)?;
        if !this.is_running()? {
            this.pg_ctl_start()?;
        } else {
            tracing::info!(dir = %this.dir.display(), "reusing the running embedded PostgreSQL");
        }
        this.lock
            .lock_shared()
            .map_err(io("sharing the embedded cluster lock"))?;
        Ok(this)
    }

    /// The connection URL for a database of this cluster (as the `postgres` superuser).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@/{database}?host={}",
            percent_encode(&self.dir.to_string_lossy())
        )
    }

    /// The directory the cluster lives in (also its socket directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> anyhow::Result<()> {
        use diesel::{ExpressionMethods, QueryDsl};
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        diesel::table! { pg_database (datname) { datname -> Text, } }
        let mut conn = AsyncPgConnection::establish(&self.url("postgres")).await?;
        let exists: i64 = pg_database::table
            .filter(pg_database::datname.eq(database))
            .count()
            .get_result(&mut conn)
            .await?;
        if exists == 0 {
            diesel::sql_query(format!(
                "CREATE DATABASE \"{}\"",
                database.replace('"', "\"\"")
            ))
            .execute(&mut conn)
            .await?;
            tracing::info!(database, "created database");
        }
        Ok(())
    }

    /// Stops the cluster unless another process still uses it.
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        tokio::task::spawn_blocking(move || self.stop_if_unused().map(|_| ()))
            .await
            .map_err(|e| EmbeddedError::Command {
                what: "embedded stop".into(),
                detail: e.to_string(),
            })?
    }

    /// Stops the cluster unless another process still holds its lock; answers whether it
    /// stopped it. Blocking (for callers without a runtime, such as an exit hook). The lock
    /// stays exclusive afterwards, so a process starting meanwhile waits and then starts
    /// the cluster again.
    pub fn stop_if_unused(&self) -> Result<bool, EmbeddedError> {
        if self.lock.try_lock().is_err() {
            tracing::info!(
                "embedded PostgreSQL still in use by another process; leaving it running"
            );
            return Ok(false);
        }
        let out = self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "30", "-s"])?;
        if !out.status.success() && self.is_running()? {
            return Err(self.failure("pg_ctl stop", &out));
        }
        tracing::info!("embedded PostgreSQL stopped");
        Ok(true)
    }

    fn init_once(&self) -> Result<(), EmbeddedError> {
        if self.dir.join("PG_VERSION").exists() {
            return Ok(());
        }
        if self.dir.exists() {
            let mut entries =
                fs::read_dir(&self.dir).map_err(io(format!("reading {}", self.dir.display())))?;
            if entries.next().is_some() {
                return Err(EmbeddedError::NotACluster(self.dir.clone()));
            }
        } else {
            fs::create_dir(&self.dir).map_err(io(format!("creating {}", self.dir.display())))?;
        }
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(io("setting the data directory mode"))?;
        self.chown(&self.dir)?;
        tracing::info!(dir = %self.dir.display(), "initialising the embedded PostgreSQL cluster");
        let out = self
            .command("initdb")
            .args(["-D"])
            .arg(&self.dir)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ])
            .output()
            .map_err(io("running initdb"))?;
        if !out.status.success() {
            return Err(self.failure("initdb", &out));
        }
        let conf = self.dir.join("postgresql.conf");
        let mut file = File::options()
            .append(true)
            .open(&conf)
            .map_err(io("opening postgresql.conf"))?;
        writeln!(file, "\ninclude_if_exists = 'platform-api.conf'")
            .map_err(io("writing postgresql.conf"))?;
        Ok(())
    }

    fn write_settings(&self, durability: Durability) -> Result<(), EmbeddedError> {
        let socket_dir = self.dir.to_string_lossy().replace('\'', "''");
        let mut settings = format!(
            "# Written by platform-api at every start; edits are overwritten.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{socket_dir}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n"
        );
        if durability == Durability::Fast {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.dir.join("platform-api.conf");
        fs::write(&path, settings).map_err(io("writing platform-api.conf"))?;
        self.chown(&path)
    }

    fn is_running(&self) -> Result<bool, EmbeddedError> {
        Ok(self.pg_ctl(&["status"])?.status.success())
    }

    fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let log = self.dir.join("postgres.log");
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s", "start"])
            .output()
            .map_err(io("running pg_ctl start"))?;
        if !out.status.success() {
            let tail = fs::read_to_string(&log)
                .map(|l| {
                    l.lines()
                        .rev()
                        .take(15)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            return Err(EmbeddedError::Command {
                what: "pg_ctl start".into(),
                detail: format!("{}\n{tail}", String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        tracing::info!(dir = %self.dir.display(), "embedded PostgreSQL started");
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output, EmbeddedError> {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(args)
            .output()
            .map_err(io("running pg_ctl"))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir(self.dir.parent().unwrap_or(Path::new("/")))
            .env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid).current_dir("/");
        }
        cmd
    }

    fn chown(&self, path: &Path) -> Result<(), EmbeddedError> {
        match self.run_as {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(
                format!("giving {} to the postgres user", path.display()),
            )),
            None => Ok(()),
        }
    }

    fn failure(&self, what: &str, out: &Output) -> EmbeddedError {
        EmbeddedError::Command {
            what: what.into(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
}

/// Finds a directory holding both `initdb` and `pg_ctl`: on `PATH` first, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    search_bin_dir(
        std::env::var_os("PATH").as_deref(),
        Path::new("/usr/lib/postgresql"),
    )
}

fn search_bin_dir(path: Option<&std::ffi::OsStr>, versions_root: &Path) -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(path) = path
        && let Some(dir) = std::env::split_paths(path).find(|d| has_both(d))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(versions_root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().next().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The uid and gid of the `postgres` system user (through NSS, via `getent`).
fn postgres_user() -> Result<(u32, u32), EmbeddedError> {
    let out = Command::new("getent")
        .args(["passwd", "postgres"])
        .output()
        .map_err(io("running getent"))?;
    let line = String::from_utf8_lossy(&out.stdout);
    let mut fields = line.trim().split(':').skip(2);
    match (
        fields.next().and_then(|u| u.parse().ok()),
        fields.next().and_then(|g| g.parse().ok()),
    ) {
        (Some(uid), Some(gid)) if out.status.success() => Ok((uid, gid)),
        _ => Err(EmbeddedError::NoPostgresUser),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("initdb"), "").unwrap();
        fs::write(dir.join("pg_ctl"), "").unwrap();
    }

    #[test]
    fn binaries_on_path_win_then_the_newest_version_dir() {
        let root = std::env::temp_dir().join(format!("pa-bins-{}", uuid::Uuid::new_v4().simple()));
        let versions = root.join("lib");
        assert_eq!(search_bin_dir(None, &versions), None, "nothing installed");
        fake_bin(&versions.join("9/bin"));
        fake_bin(&versions.join("15/bin"));
        fake_bin(&versions.join("13/bin"));
        fs::create_dir_all(versions.join("17/bin")).unwrap(); // incomplete: no binaries
        assert_eq!(
            search_bin_dir(None, &versions),
            Some(versions.join("15/bin"))
        );
        let on_path = root.join("path-bin");
        fake_bin(&on_path);
        let path = std::env::join_paths([root.join("empty"), on_path.clone()]).unwrap();
        assert_eq!(search_bin_dir(Some(&path), &versions), Some(on_path));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_missing_binaries_error_says_what_to_install() {
        let message = EmbeddedError::NoBinaries.to_string();
        assert!(
            message.contains("apt-get install -y postgresql"),
            "{message}"
        );
        assert!(message.contains("DATABASE_URL"), "{message}");
    }

    #[test]
    fn socket_paths_are_encoded_into_the_url() {
        assert_eq!(percent_encode("/tmp/a b/pg"), "/tmp/a%20b/pg");
        assert_eq!(
            percent_encode("/work/main/.data/postgres"),
            "/work/main/.data/postgres"
        );
    }
}
