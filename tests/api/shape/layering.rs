//! Acceptance: nothing under `src/domain`, `src/jobs`, `src/upstream`, `src/db` or `src/auth`
//! imports `crate::graphql` or `crate::http` (the layers below the edge never depend on it).

use std::path::{Path, PathBuf};

const LOWER_LAYERS: [&str; 5] = ["domain", "jobs", "upstream", "db", "auth"];
const EDGE: [&str; 2] = ["graphql", "http"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without comments (line, doc and block comments) and string literals,
/// so a path named in a doc comment or a message is not an import.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let bytes: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// How deep a file's module is below the crate root (`src/domain/mod.rs` → 1,
/// `src/domain/ids.rs` → 2, `src/domain/tenants/changes.rs` → 3).
fn module_depth(src: &Path, file: &Path) -> usize {
    let relative = file.strip_prefix(src).expect("under src");
    let parts = relative.components().count();
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Every way the file names an edge module: `crate::graphql…`, `crate::{…graphql…}` at the
/// top level of a group, or a `super::super::…::graphql` path that climbs to the crate root
/// from a module at `depth`.
fn edge_imports(code: &str, depth: usize) -> Vec<String> {
    let compact: String = code.split_whitespace().collect::<Vec<_>>().join("");
    let mut found = Vec::new();
    for edge in EDGE {
        if compact.contains(&format!("crate::{edge}")) {
            found.push(format!("crate::{edge}"));
        }
    }
    let mut at = 0;
    while let Some(pos) = compact[at..].find("super::") {
        let start = at + pos;
        let preceded_by_path = compact[..start].ends_with("::");
        let mut climbs = 0;
        let mut cursor = start;
        while compact[cursor..].starts_with("super::") {
            climbs += 1;
            cursor += "super::".len();
        }
        let next: String = compact[cursor..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !preceded_by_path && climbs >= depth && EDGE.contains(&next.as_str()) {
            found.push(format!("{}{next}", "super::".repeat(climbs)));
        }
        at = cursor;
    }
    let mut rest = compact.as_str();
    while let Some(start) = rest.find("crate::{") {
        let group = &rest[start + "crate::{".len()..];
        let mut depth = 1;
        let mut top_level = String::new();
        for ch in group.chars() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ if depth == 1 => top_level.push(ch),
                _ => {}
            }
        }
        for item in top_level.split(',') {
            let head = item.split("::").next().unwrap_or_default();
            if EDGE.contains(&head) {
                found.push(format!("crate::{{{item}…}}"));
            }
        }
        rest = &group[1..];
    }
    found
}

#[test]
fn lower_layers_never_import_the_edge() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut scanned = 0;
    for layer in LOWER_LAYERS {
        for file in rust_files(&src.join(layer)) {
            scanned += 1;
            let source = std::fs::read_to_string(&file).expect("read source");
            for import in edge_imports(&code_only(&source), module_depth(&src, &file)) {
                offenders.push(format!("{}: {import}", file.display()));
            }
        }
    }
    assert!(
        scanned > 40,
        "only {scanned} files scanned: is src/ where it should be?"
    );
    assert!(
        offenders.is_empty(),
        "lower layers import the edge:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_catches_every_form_of_import() {
    // A file two modules deep, e.g. `src/domain/ids.rs`.
    let caught = |code: &str| !edge_imports(&code_only(code), 2).is_empty();
    assert!(caught("use crate::graphql::pagination::PageRequest;"));
    assert!(caught("use crate::{db::DbPool, graphql::ids::GlobalId};"));
    assert!(caught("use crate::{\n    http::reply,\n};"));
    assert!(caught("fn f() { crate::http::reply::ok(); }"));
    assert!(caught("use super::super::graphql::node;"));
    assert!(
        !caught("use super::http::Client;"),
        "a sibling module named http is not the edge"
    );
    assert!(!caught("use crate::{domain::{ids, page}, db::DbPool};"));
    assert!(!caught(
        "//! See `crate::graphql::node`.\nuse crate::db::DbPool;"
    ));
    assert!(!caught("let s = \"crate::http\";"));
    assert!(!caught("use async_graphql::Enum;"));
}
