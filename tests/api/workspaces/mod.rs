//! Self-service workspaces and the default tenant (issue 22, acceptance 4).

use platform_api::config::AppEnv;
use platform_api::domain::tenants::workspace::{WorkspacesConfig, ensure_default_tenant};
use serde_json::{Value, json};

use crate::provisioning::{quick_jobs, wait_for};
use crate::support::tables::{count, fingerprint};
use crate::support::{TestApp, World};

const CREATE: &str = r#"
mutation($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) { tenant { slug name status plan { key } } }
}"#;

const MINE: &str = r#"{ me { memberships { role tenantSlug } } }"#;

fn ws(slug: &str) -> Value {
    json!({ "input": { "slug": slug, "name": format!("{slug} Ltd") } })
}

async fn world(per_user: i64, per_hour: i64, workers: usize) -> World {
    let app = TestApp::spawn_with(|c| {
        c.workspaces.per_user = per_user;
        c.workspaces.per_hour = per_hour;
        quick_jobs(c, workers);
    })
    .await;
    World::new()
        .tenant("taken")
        .operator("root")
        .user("alice")
        .user("bob")
        .build(app)
        .await
}

#[tokio::test]
async fn the_caller_owns_the_workspace_and_provisioning_runs() {
    let w = world(3, 10, 1).await;
    let body = w
        .allowed("alice", CREATE, ws("alice-co"), "tenant.create_workspace")
        .await;
    assert_eq!(
        body["data"]["createWorkspace"]["tenant"],
        json!({ "slug": "alice-co", "name": "alice-co Ltd", "status": "PENDING", "plan": { "key": "standard" } })
    );
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "memberships m JOIN tenants t ON t.id = m.tenant_id JOIN users u ON u.id = m.user_id
             WHERE t.slug = 'alice-co' AND u.authentik_subject = 'alice' AND m.role = 'owner' AND m.status = 'active'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = 'alice-co'"
        )
        .await,
        1,
        "nobody else"
    );
    let body = w.query("alice", MINE).await;
    assert!(body.to_string().contains("alice-co"), "{body}");
    // No upstream is configured, so every step is skipped and the tenant becomes active.
    wait_for(&w, "alice-co", "active", |s| s["status"] == "ACTIVE").await;
    // Bob does not see Alice's workspace.
    let body = w
        .query("bob", r#"{ tenant(slug: "alice-co") { slug } }"#)
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
}

#[tokio::test]
async fn the_per_user_limit_holds_and_a_taken_slug_is_a_conflict() {
    let w = world(2, 100, 0).await;
    w.allowed("alice", CREATE, ws("alice-one"), "tenant.create_workspace")
        .await;
    w.refused(
        Some("alice"),
        CREATE,
        ws("taken"),
        "tenant.create_workspace",
        "CONFLICT",
        "failure",
    )
    .await;
    w.allowed("alice", CREATE, ws("alice-two"), "tenant.create_workspace")
        .await;
    w.denied(
        Some("alice"),
        CREATE,
        ws("alice-three"),
        "tenant.create_workspace",
        "FORBIDDEN",
    )
    .await;
    // The limit is per person.
    w.allowed("bob", CREATE, ws("bob-one"), "tenant.create_workspace")
        .await;
    w.invalid(
        "bob",
        CREATE,
        ws("Bad Slug"),
        "tenant.create_workspace",
        "input.slug",
    )
    .await;
    w.invalid(
        "bob",
        CREATE,
        json!({ "input": { "slug": "bob-two", "name": "" } }),
        "tenant.create_workspace",
        "input.name",
    )
    .await;
    w.denied(
        None,
        CREATE,
        ws("anon-co"),
        "tenant.create_workspace",
        "UNAUTHENTICATED",
    )
    .await;
    // Concurrent attempts by one person cannot pass the limit together.
    let (a, b) = tokio::join!(
        w.query_with("bob", CREATE, ws("bob-race-a")),
        w.query_with("bob", CREATE, ws("bob-race-b")),
    );
    let ok = [&a, &b]
        .iter()
        .filter(|r| r.get("errors").is_none())
        .count();
    assert_eq!(ok, 1, "{a}\n{b}");
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(&mut conn, "tenant_profiles p JOIN users u ON u.id = p.created_by WHERE u.authentik_subject = 'bob'").await,
        2
    );
}

#[tokio::test]
async fn attempts_are_rate_limited() {
    let w = world(10, 2, 0).await;
    w.allowed("alice", CREATE, ws("alice-one"), "tenant.create_workspace")
        .await;
    w.refused(
        Some("alice"),
        CREATE,
        ws("taken"),
        "tenant.create_workspace",
        "CONFLICT",
        "failure",
    )
    .await;
    // The third attempt within the hour: RATE_LIMITED (HTTP 429, as for the request limits),
    // nothing written but its audit row.
    let mut conn = w.db.connect().await;
    let before = fingerprint(&mut conn).await;
    let failures = w.audit_rows("tenant.create_workspace", "failure").await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/graphql", w.addr))
        .bearer_auth(w.token("alice"))
        .json(&json!({ "query": CREATE, "variables": ws("alice-two") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert_eq!(fingerprint(&mut conn).await, before);
    assert_eq!(
        w.audit_rows("tenant.create_workspace", "failure").await,
        failures + 1
    );
    w.allowed("bob", CREATE, ws("bob-one"), "tenant.create_workspace")
        .await;
}

fn defaults() -> WorkspacesConfig {
    WorkspacesConfig::from_lookup(&|_| None, AppEnv::Development).unwrap()
}

#[tokio::test]
async fn the_default_tenant_is_created_once_across_starts_and_concurrent_instances() {
    assert_eq!(defaults().default_tenant_slug.as_deref(), Some("dezky"));
    assert_eq!(
        WorkspacesConfig::from_lookup(&|_| None, AppEnv::Production)
            .unwrap()
            .default_tenant_slug,
        None
    );
    let off = |n: &str| (n == "DEFAULT_TENANT_SLUG").then(|| "-".to_owned());
    assert_eq!(
        WorkspacesConfig::from_lookup(&off, AppEnv::Development)
            .unwrap()
            .default_tenant_slug,
        None
    );
    let bad = |n: &str| (n == "DEFAULT_TENANT_SLUG").then(|| "Not A Slug".to_owned());
    assert_eq!(
        WorkspacesConfig::from_lookup(&bad, AppEnv::Development)
            .unwrap_err()
            .name,
        "DEFAULT_TENANT_SLUG"
    );
    let w = World::new().operator("root").spawn().await;
    let config = defaults();
    // Two instances starting at once.
    let (mut a, mut b) = (w.db.connect().await, w.db.connect().await);
    let (x, y) = tokio::join!(
        ensure_default_tenant(&mut a, &config, 3),
        ensure_default_tenant(&mut b, &config, 3),
    );
    let created = [x.unwrap(), y.unwrap()];
    assert_eq!(
        created.iter().filter(|c| c.is_some()).count(),
        1,
        "{created:?}"
    );
    // A later start creates nothing.
    assert_eq!(
        ensure_default_tenant(&mut a, &config, 3).await.unwrap(),
        None
    );
    let mut conn = w.db.connect().await;
    assert_eq!(count(&mut conn, "tenants WHERE slug = 'dezky'").await, 1);
    assert_eq!(
        count(
            &mut conn,
            "provisioning_steps s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = 'dezky'"
        )
        .await,
        platform_api::domain::provisioning::Step::ALL.len() as i64
    );
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'tenant.create' AND target_id = 'dezky'"
        )
        .await,
        1
    );
    let body = w
        .query(
            "root",
            r#"{ tenant(slug: "dezky") { name status plan { key } } }"#,
        )
        .await;
    assert_eq!(
        body["data"]["tenant"],
        json!({ "name": "Dezky", "status": "PENDING", "plan": { "key": "standard" } })
    );
}

#[tokio::test]
async fn an_existing_default_tenant_is_never_overwritten_and_unset_means_none() {
    let w = World::new()
        .tenant(crate::support::Tenant::new("dezky").plan("business"))
        .spawn()
        .await;
    let mut conn = w.db.connect().await;
    let mut config = defaults();
    config.default_tenant_name = "Something Else".into();
    assert_eq!(
        ensure_default_tenant(&mut conn, &config, 3).await.unwrap(),
        None
    );
    assert_eq!(
        count(
            &mut conn,
            "tenants WHERE slug = 'dezky' AND plan = 'business' AND name <> 'Something Else'"
        )
        .await,
        1
    );
    config.default_tenant_slug = None;
    let before = count(&mut conn, "tenants").await;
    assert_eq!(
        ensure_default_tenant(&mut conn, &config, 3).await.unwrap(),
        None
    );
    assert_eq!(count(&mut conn, "tenants").await, before);
}
