//! The suite leaves nothing behind. When the test process exits (every test done, passed or
//! failed), an exit hook:
//! - removes the per-process data directory of the test apps ([`data_dir`]);
//! - stops the embedded test cluster (`$TMPDIR/platform-api-test-pg-<uid>`), unless another
//!   process still holds its lock — another checkout's test run on this machine, which then
//!   stops it when it is the last — or `PLATFORM_API_TEST_KEEP_PG=1` asks to keep it running
//!   for the next run (saves its start, a second or two).
//!
//! A run killed with SIGKILL skips the hook; the next run reuses the cluster and stops it.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;

/// Set to `1` to leave the embedded test cluster running after the run.
pub const KEEP_VAR: &str = "PLATFORM_API_TEST_KEEP_PG";

/// The data directory (development issuer key) of every test app of this process.
pub fn data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("platform-api-test-data-{}", std::process::id()))
}

/// Whether the cluster is to be kept after the run.
pub fn keep_cluster() -> bool {
    std::env::var(KEEP_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Installs the exit hook (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `atexit` only records a plain function pointer; `on_exit` never unwinds.
        #[expect(unsafe_code, reason = "the only exit hook std offers is libc's atexit")]
        let rc = unsafe { libc::atexit(on_exit) };
        assert_eq!(rc, 0, "cannot install the test teardown hook");
    });
}

extern "C" fn on_exit() {
    let _ = std::panic::catch_unwind(teardown);
}

fn teardown() {
    let _ = std::fs::remove_dir_all(data_dir());
    let Some(cluster) = super::postgres::embedded() else {
        return;
    };
    let dir = cluster.dir().display().to_string();
    let said = if keep_cluster() {
        format!("test cluster {dir} kept running ({KEEP_VAR} is set)")
    } else {
        match cluster.stop_if_unused() {
            Ok(true) => format!("test cluster {dir} stopped"),
            Ok(false) => format!("test cluster {dir} left running: another process still uses it"),
            Err(e) => format!("test cluster {dir} could not be stopped: {e}"),
        }
    };
    let _ = writeln!(std::io::stderr(), "teardown: {said}");
}
