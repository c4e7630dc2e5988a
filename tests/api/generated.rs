//! Generated files are never stale: `schema.graphql` equals `platform-api print-schema`, the
//! audience schemas under `codegen/` equal `platform-api print-schema --audience …`, and
//! `src/db/schema.rs` equals `diesel print-schema` of a freshly migrated database.

use std::path::Path;
use std::process::Command;

use platform_api::graphql::audience::SchemaView;
use platform_api::graphql::sdl::sdl_for;

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
async fn audience_schemas_are_current() {
    for view in [SchemaView::Portal, SchemaView::Operator] {
        let name = view.name();
        let path = Path::new(ROOT).join(format!("codegen/schema.{name}.graphql"));
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == sdl_for(view).await,
            "codegen/schema.{name}.graphql is stale; regenerate it with \
             `cargo run -q -- print-schema --audience {name} > codegen/schema.{name}.graphql`"
        );
    }
}

#[tokio::test]
async fn print_schema_command_prints_each_audience() {
    for view in [SchemaView::Portal, SchemaView::Operator] {
        let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
            .args(["print-schema", "--audience", view.name()])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), sdl_for(view).await);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_platform-api"))
        .args(["print-schema", "--audience", "partner"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown audience is refused");
}

/// The audience SDL is printed from introspection by our own printer; printed for the
/// operator view it must equal async-graphql's own export of the whole schema, so the two
/// printers agree and the operator view hides nothing.
#[tokio::test]
async fn operator_view_is_the_whole_schema() {
    assert!(sdl_for(SchemaView::Operator).await == platform_api::graphql::sdl());
    let portal = sdl_for(SchemaView::Portal).await;
    assert!(portal.len() < platform_api::graphql::sdl().len());
    async_graphql::parser::parse_schema(&portal).expect("the portal SDL parses");
}

/// Whether this is a CI run (`CI` set to anything but empty, `0` or `false`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

#[tokio::test]
async fn db_schema_rs_is_current() {
    let diesel = std::env::var("DIESEL").unwrap_or_else(|_| "diesel".into());
    if Command::new(&diesel).arg("--version").output().is_err() {
        assert!(
            !in_ci(),
            "the diesel CLI is required in CI to check src/db/schema.rs \
             (cargo install diesel_cli --version '~2.3' --no-default-features --features postgres --locked)"
        );
        // Straight to the process's stderr: the harness captures `eprintln!` of a passing
        // test, and a skip must show in the run's output.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED generated::db_schema_rs_is_current: diesel CLI not installed \
             (cargo install diesel_cli --version '~2.3' --no-default-features --features postgres --locked); \
             with CI=true this fails"
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
    // The operator view: the whole schema.
    let response = schema
        .execute(async_graphql::Request::new(query).data(SchemaView::Operator))
        .await;
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
