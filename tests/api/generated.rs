//! Generated files are never stale: `schema.graphql` equals `platform-api print-schema`, and
//! `src/db/schema.rs` equals `diesel print-schema` of a freshly migrated database.

use std::path::Path;
use std::process::Command;

use crate::support::postgres::TestDb;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn schema_graphql_is_current() {
    let path = Path::new(ROOT).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let current = platform_api::graphql::sdl();
    assert!(
        checked_in == current,
        "schema.graphql is stale; regenerate it with `cargo run -q -- print-schema > schema.graphql`"
    );
}

#[test]
fn print_schema_command_prints_the_sdl() {
    let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        platform_api::graphql::sdl()
    );
}

#[tokio::test]
async fn db_schema_rs_is_current() {
    let diesel = std::env::var("DIESEL").unwrap_or_else(|_| "diesel".into());
    if Command::new(&diesel).arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the diesel CLI is required in CI to check src/db/schema.rs"
        );
        eprintln!(
            "SKIPPED db_schema_rs_is_current: diesel CLI not installed (cargo install diesel_cli --version '~2.3' --no-default-features --features postgres --locked)"
        );
        return;
    }
    let db = TestDb::create().await;
    let out = Command::new(&diesel)
        .args(["print-schema", "--database-url", db.url()])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "diesel print-schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked_in = std::fs::read_to_string(Path::new(ROOT).join("src/db/schema.rs")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == checked_in,
        "src/db/schema.rs is stale; regenerate it as migrations/README.md says"
    );
}

#[tokio::test]
async fn every_type_field_and_value_is_documented() {
    let schema = platform_api::graphql::schema_builder(
        &platform_api::config::GraphqlLimits::defaults(platform_api::config::AppEnv::Development),
    )
    .finish();
    let query = "{ __schema { types { name description
        fields { name description args { name description } }
        inputFields { name description } enumValues { name description } } } }";
    let response = schema.execute(query).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = vec![];
    let described = |v: &serde_json::Value| {
        v["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    for ty in data["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        if name.starts_with("__") || builtin.contains(&name) {
            continue;
        }
        if !described(ty) {
            missing.push(name.to_owned());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for item in ty[list].as_array().into_iter().flatten() {
                if !described(item) {
                    missing.push(format!("{name}.{}", item["name"].as_str().unwrap()));
                }
                for arg in item["args"].as_array().into_iter().flatten() {
                    if !described(arg)
                        && !["first", "after", "last", "before"]
                            .contains(&arg["name"].as_str().unwrap())
                    {
                        missing.push(format!(
                            "{name}.{}({})",
                            item["name"].as_str().unwrap(),
                            arg["name"].as_str().unwrap()
                        ));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
