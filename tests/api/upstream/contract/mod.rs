//! The upstream contracts: the committed table is what the published documents say, and
//! every adapter operation maps to spec operations the table has.

mod generate;

use std::path::Path;

/// The table equals what the generator makes of the documents; skipped (visibly) where the
/// documents are not beside the project. `UPDATE_CONTRACTS=1` rewrites it.
#[test]
fn table_is_current() {
    let dir = generate::specs_dir();
    if !generate::specs_present(&dir) {
        eprintln!(
            "SKIPPED upstream::contract::table_is_current: the upstream documents are not at {} \
             (set UPSTREAM_SPECS_DIR)",
            dir.display()
        );
        return;
    }
    let fresh = generate::generate(&dir);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(generate::TABLE);
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale; regenerate it with \
         `UPDATE_CONTRACTS=1 cargo test --test api upstream::contract::table_is_current`",
        generate::TABLE
    );
}
