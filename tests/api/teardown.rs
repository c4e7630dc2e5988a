//! A test run leaves nothing behind: this runs one database test of this very binary in a
//! child process with a `TMPDIR` of its own, and checks after it exited that its embedded
//! cluster is stopped and its temporary directories are gone — or, with
//! `PLATFORM_API_TEST_KEEP_PG=1`, that the cluster was kept.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::teardown::KEEP_VAR;

/// Set in the child, so this test does not recurse.
const CHILD: &str = "PLATFORM_API_TEARDOWN_CHILD";

fn run_child(tmp: &Path, keep: bool) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "spec::order::aliases_keep_their_order_and_names",
        "--exact",
        "--test-threads=1",
    ])
    .env("TMPDIR", tmp)
    .env(CHILD, "1")
    .env_remove("DATABASE_URL")
    .env_remove(KEEP_VAR);
    if keep {
        cmd.env(KEEP_VAR, "1");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child run failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test:\n{stdout}"
    );
    stderr
}

#[test]
fn a_run_stops_its_cluster_and_removes_its_temp_dirs_unless_asked_to_keep_it() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    if platform_api::db::embedded::find_bin_dir().is_none() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED teardown: no PostgreSQL server binaries to start a cluster with"
        );
        return;
    }
    let tmp = std::env::temp_dir().join(format!("pa-teardown-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    // The cluster runs as `postgres` when the tests run as root: it must reach the directory.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let cluster = tmp.join(format!("platform-api-test-pg-{uid}"));
    let running = || cluster.join("postmaster.pid").exists();
    let leftovers = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("platform-api-test-data-"))
            .collect::<Vec<_>>()
    };

    // Kept on request…
    let said = run_child(&tmp, true);
    assert!(said.contains("kept running"), "{said}");
    assert!(running(), "{KEEP_VAR}=1 keeps the cluster");
    assert_eq!(
        leftovers(),
        Vec::<String>::new(),
        "the data dir is removed anyway"
    );

    // …and by default the next run reuses it and stops it.
    let said = run_child(&tmp, false);
    assert!(said.contains("stopped"), "{said}");
    assert!(!running(), "the cluster is stopped after the run");
    assert_eq!(leftovers(), Vec::<String>::new());

    let _ = std::fs::remove_dir_all(&tmp);
}
