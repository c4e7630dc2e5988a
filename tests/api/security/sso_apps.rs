//! SSO apps against the Authentik fake: create (a failure injected at each of the three
//! creation steps leaves nothing behind), update, rotate, delete; the secret in no column and
//! no log line; allowed, denied (no upstream call) and invalid (nothing written) for each.

use axum::http::Method;
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::provisioning::Stack;
use crate::support::fakes::FaultKind;
use crate::support::logs;
use crate::support::tables::count;
use crate::support::{Level, Role, Tenant, TestApp, World};

const CREATE: &str = r#"
mutation($input: CreateSsoAppInput!) {
  createSsoApp(input: $input) { app { id name clientId redirectUris launchUrl } clientId clientSecret }
}"#;

const UPDATE: &str = r#"
mutation($input: UpdateSsoAppInput!) {
  updateSsoApp(input: $input) { app { id name redirectUris launchUrl } }
}"#;

const ROTATE: &str = r#"
mutation($input: SsoAppRefInput!) {
  rotateSsoAppSecret(input: $input) { app { id } clientId clientSecret }
}"#;

const DELETE: &str = r#"
mutation($input: SsoAppRefInput!) { deleteSsoApp(input: $input) { app { id } } }"#;

const APPS: &str = r#"
query($slug: String!) { tenant(slug: $slug) { ssoApps { id name clientId redirectUris } } }"#;

const GROUP: &str = "1b4f0d9e-6c1a-4f59-9d1e-4c2b7a1d0c11";

async fn world(stack: &Stack) -> World {
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| c.upstreams = upstreams).await;
    let w = World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("other")
        .operator("root")
        .member("ann", "acme", Role::Admin)
        .member("mo", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .member("olga", "other", Role::Owner)
        .build(app)
        .await;
    let mut conn = w.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE tenants SET authentik_group_id = '{GROUP}' WHERE slug = 'acme'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    // The tenant's group, as provisioning made it.
    stack.authentik.state().groups.insert(
        GROUP.into(),
        json!({ "pk": GROUP, "num_pk": 1, "name": "acme", "is_superuser": false,
                "parent": null, "users": [], "attributes": { "dezky_tenant": "acme" } }),
    );
    w
}

fn create_input() -> Value {
    json!({ "input": {
        "tenant": "acme", "name": "Wiki",
        "redirectUris": ["https://wiki.acme.example/oauth/callback", "http://localhost:8080/cb"],
        "launchUrl": "https://wiki.acme.example/"
    }})
}

/// Providers, applications and bindings on the fake.
fn upstream_objects(stack: &Stack) -> (usize, usize, usize) {
    let s = stack.authentik.state();
    (s.providers.len(), s.applications.len(), s.bindings.len())
}

#[tokio::test]
async fn create_update_rotate_delete_against_the_fake() {
    logs::install();
    let stack = Stack::spawn().await;
    let w = world(&stack).await;
    let body = w
        .allowed("ann", CREATE, create_input(), "sso_app.create")
        .await;
    let created = &body["data"]["createSsoApp"];
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let id = created["app"]["id"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    assert_eq!(created["app"]["clientId"], client_id.as_str());
    assert_eq!(upstream_objects(&stack), (1, 1, 1));
    {
        let s = stack.authentik.state();
        let binding = s.bindings.values().next().unwrap();
        assert_eq!(binding["group"], GROUP, "bound to the tenant's group");
        let provider = s.providers.values().next().unwrap();
        assert_eq!(provider["redirect_uris"][0]["matching_mode"], "strict");
        assert_eq!(provider["property_mappings"].as_array().unwrap().len(), 3);
    }
    let body = w.query_with("ann", APPS, json!({ "slug": "acme" })).await;
    assert_eq!(
        body["data"]["tenant"]["ssoApps"][0]["clientId"],
        client_id.as_str()
    );
    assert!(!body.to_string().contains(&secret));

    // Update: name and redirect URIs reach Authentik.
    let vars = json!({ "input": { "tenant": "acme", "id": id,
        "name": "Team wiki", "redirectUris": ["https://wiki2.acme.example/cb"], "launchUrl": null } });
    let body = w.allowed("ann", UPDATE, vars, "sso_app.update").await;
    assert_eq!(body["data"]["updateSsoApp"]["app"]["name"], "Team wiki");
    assert!(body["data"]["updateSsoApp"]["app"]["launchUrl"].is_null());
    {
        let s = stack.authentik.state();
        assert_eq!(s.applications.values().next().unwrap()["name"], "Team wiki");
        let provider = s.providers.values().next().unwrap();
        assert_eq!(
            provider["redirect_uris"],
            json!([{ "matching_mode": "strict", "url": "https://wiki2.acme.example/cb" }])
        );
    }

    // Rotate: a new secret, set on the provider, shown once.
    let vars = json!({ "input": { "tenant": "acme", "id": id } });
    let body = w
        .allowed("ann", ROTATE, vars.clone(), "sso_app.rotate_secret")
        .await;
    let rotated = body["data"]["rotateSsoAppSecret"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, secret);
    assert_eq!(
        stack.authentik.state().providers.values().next().unwrap()["client_secret"],
        rotated.as_str()
    );

    // Neither secret is in any text or JSON column, nor in any log line.
    let mut conn = w.db.connect().await;
    for s in [&secret, &rotated] {
        assert_eq!(columns_containing(&mut conn, s).await, Vec::<String>::new());
        assert_eq!(logs::lines_containing(s), Vec::<String>::new());
    }
    assert!(
        columns_containing(&mut conn, &client_id)
            .await
            .contains(&"tenant_sso_apps.client_id".to_owned()),
        "the scan finds what is there"
    );

    // Delete: everything goes, upstream and here.
    w.allowed("ann", DELETE, vars, "sso_app.delete").await;
    assert_eq!(upstream_objects(&stack), (0, 0, 0));
    assert_eq!(count(&mut conn, "tenant_sso_apps").await, 0);
}

#[tokio::test]
async fn a_failure_at_each_creation_step_leaves_nothing_behind() {
    let stack = Stack::spawn().await;
    let w = world(&stack).await;
    let fault = FaultKind::Status {
        status: 500,
        retry_after: None,
    };
    for path in [
        "/api/v3/providers/oauth2/",
        "/api/v3/core/applications/",
        "/api/v3/policies/bindings/",
    ] {
        stack
            .authentik
            .fail_next_on(1, fault.clone(), Method::POST, path);
        w.refused(
            Some("ann"),
            CREATE,
            create_input(),
            "sso_app.create",
            "UPSTREAM_UNAVAILABLE",
            "failure",
        )
        .await;
        assert_eq!(
            upstream_objects(&stack),
            (0, 0, 0),
            "after a failure on {path}"
        );
    }
    // And then it works.
    w.allowed("ann", CREATE, create_input(), "sso_app.create")
        .await;
    assert_eq!(upstream_objects(&stack), (1, 1, 1));
}

#[tokio::test]
async fn each_mutation_is_allowed_denied_without_a_call_or_invalid_without_a_write() {
    let stack = Stack::spawn().await;
    let w = world(&stack).await;
    let body = w
        .allowed("pstaff", CREATE, create_input(), "sso_app.create")
        .await;
    let id = body["data"]["createSsoApp"]["app"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reference = json!({ "input": { "tenant": "acme", "id": id } });
    let rename = json!({ "input": { "tenant": "acme", "id": id, "name": "Renamed" } });

    stack.authentik.clear_calls();
    for (doc, vars, action) in [
        (CREATE, create_input(), "sso_app.create"),
        (UPDATE, rename.clone(), "sso_app.update"),
        (ROTATE, reference.clone(), "sso_app.rotate_secret"),
        (DELETE, reference.clone(), "sso_app.delete"),
    ] {
        w.denied(Some("mo"), doc, vars.clone(), action, "FORBIDDEN")
            .await;
        w.denied(Some("olga"), doc, vars.clone(), action, "NOT_FOUND")
            .await;
        w.denied(None, doc, vars, action, "UNAUTHENTICATED").await;
    }
    assert!(
        stack.authentik.calls().is_empty(),
        "no upstream call when denied"
    );

    let bad = |field: &str, value: Value| {
        let mut vars = create_input();
        vars["input"][field] = value;
        vars
    };
    for (vars, field) in [
        (bad("name", json!("  ")), "input.name"),
        (bad("redirectUris", json!([])), "input.redirectUris"),
        (
            bad("redirectUris", json!(["http://wiki.acme.example/cb"])),
            "input.redirectUris[0]",
        ),
        (
            bad(
                "redirectUris",
                json!(["https://ok.example/cb", "https://wiki.acme.example/cb#x"]),
            ),
            "input.redirectUris[1]",
        ),
        (
            bad("redirectUris", json!(["https://*.acme.example/cb"])),
            "input.redirectUris[0]",
        ),
        (
            bad("launchUrl", json!("ftp://acme.example/")),
            "input.launchUrl",
        ),
    ] {
        w.invalid("ann", CREATE, vars, "sso_app.create", field)
            .await;
    }
    let mut bad_update = rename.clone();
    bad_update["input"]["redirectUris"] = json!(["https://x.example/*"]);
    w.invalid(
        "ann",
        UPDATE,
        bad_update,
        "sso_app.update",
        "input.redirectUris[0]",
    )
    .await;
    let not_an_id = json!({ "input": { "tenant": "acme", "id": "nope" } });
    w.invalid(
        "ann",
        ROTATE,
        not_an_id.clone(),
        "sso_app.rotate_secret",
        "input.id",
    )
    .await;
    w.invalid("ann", DELETE, not_an_id, "sso_app.delete", "input.id")
        .await;
    assert!(
        stack.authentik.calls().is_empty(),
        "no upstream call for bad input"
    );

    w.allowed("ann", UPDATE, rename, "sso_app.update").await;
    w.allowed("root", ROTATE, reference.clone(), "sso_app.rotate_secret")
        .await;
    w.allowed("ann", DELETE, reference, "sso_app.delete").await;
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every `table.column` of the public schema whose text, array or JSON holds `needle`.
async fn columns_containing(conn: &mut AsyncPgConnection, needle: &str) -> Vec<String> {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text, c.column_name::text
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')",
    )
    .load(conn)
    .await
    .unwrap();
    assert!(columns.iter().any(|c| c.table_name == "tenant_sso_apps"));
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut hits = Vec::new();
    for c in &columns {
        let found: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM \"{}\" WHERE strpos(\"{}\"::text, $1) > 0",
            c.table_name, c.column_name
        ))
        .bind::<Text, _>(needle)
        .get_result(conn)
        .await
        .unwrap();
        if found.n > 0 {
            hits.push(format!("{}.{}", c.table_name, c.column_name));
        }
    }
    hits
}
