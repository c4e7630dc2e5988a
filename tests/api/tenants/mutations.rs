//! Every mutation: allowed, denied (only a `denied` audit row, nothing else changed) and
//! invalid (`BAD_USER_INPUT` on the field, only a `failure` audit row).

use crate::support::app::first_error_code;
use crate::support::checks::{allowed, denied, invalid, refused, run};
use crate::support::{TestApp, seed};

/// acme (partner p-one), other (direct); root = operator, tadmin = admin of acme,
/// member = member of acme, pstaff = staff of p-one, stranger = nobody.
async fn world() -> TestApp {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let p1 = seed::partner(&mut conn, "p-one").await;
    let acme = seed::tenant(&mut conn, "acme", Some(p1)).await;
    seed::tenant(&mut conn, "other", None).await;
    seed::user(&mut conn, "root", true).await;
    let tadmin = seed::user(&mut conn, "tadmin", false).await;
    let member = seed::user(&mut conn, "member", false).await;
    let pstaff = seed::user(&mut conn, "pstaff", false).await;
    seed::user(&mut conn, "stranger", false).await;
    seed::membership(&mut conn, tadmin, acme, "admin", "active").await;
    seed::membership(&mut conn, member, acme, "member", "active").await;
    seed::staff(&mut conn, pstaff, p1, "member").await;
    app
}

#[tokio::test]
async fn create_tenant() {
    let app = world().await;
    let m = |slug: &str| {
        format!(
            r#"mutation {{ createTenant(input: {{ slug: "{slug}", name: "New Co", partner: "p-one", primaryDomain: "New.Example" }}) {{ tenant {{ slug status plan primaryDomain partner {{ slug }} }} }} }}"#
        )
    };
    let body = allowed(&app, "root", &m("new-co"), "tenant.create").await;
    let tenant = &body["data"]["createTenant"]["tenant"];
    assert_eq!(
        (tenant["status"].as_str(), tenant["plan"].as_str()),
        (Some("PENDING"), Some("standard"))
    );
    assert_eq!(tenant["primaryDomain"], "new.example");
    assert_eq!(tenant["partner"]["slug"], "p-one");
    denied(
        &app,
        Some("pstaff"),
        &m("by-staff"),
        "tenant.create",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        Some("tadmin"),
        &m("by-admin"),
        "tenant.create",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        None,
        &m("anonymous"),
        "tenant.create",
        "UNAUTHENTICATED",
    )
    .await;
    invalid(&app, "root", &m("Bad Slug"), "tenant.create", "input.slug").await;
    invalid(
        &app,
        "root",
        r#"mutation { createTenant(input: { slug: "ok-slug", name: "  " }) { tenant { slug } } }"#,
        "tenant.create",
        "input.name",
    )
    .await;
    invalid(&app, "root", r#"mutation { createTenant(input: { slug: "ok-slug", name: "x", partner: "nope" }) { tenant { slug } } }"#, "tenant.create", "input.partner").await;
    invalid(&app, "root", r#"mutation { createTenant(input: { slug: "ok-slug", name: "x", primaryDomain: "localhost" }) { tenant { slug } } }"#, "tenant.create", "input.primaryDomain").await;
    refused(
        &app,
        Some("root"),
        &m("acme"),
        "tenant.create",
        "CONFLICT",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn update_tenant_by_role() {
    let app = world().await;
    let m = |fields: &str| {
        format!(
            r#"mutation {{ updateTenant(input: {{ tenant: "acme", {fields} }}) {{ tenant {{ name plan primaryDomain partner {{ slug }} }} }} }}"#
        )
    };
    let body = allowed(
        &app,
        "tadmin",
        &m(r#"name: "Acme Renamed""#),
        "tenant.update",
    )
    .await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"]["name"],
        "Acme Renamed"
    );
    let body = allowed(
        &app,
        "pstaff",
        &m(r#"plan: "business", primaryDomain: "acme.example""#),
        "tenant.update",
    )
    .await;
    assert_eq!(body["data"]["updateTenant"]["tenant"]["plan"], "business");
    let body = allowed(
        &app,
        "root",
        &m("partner: null, primaryDomain: null"),
        "tenant.update",
    )
    .await;
    assert!(
        body["data"]["updateTenant"]["tenant"]["partner"].is_null(),
        "{body}"
    );
    assert!(body["data"]["updateTenant"]["tenant"]["primaryDomain"].is_null());
    let body = allowed(&app, "root", &m(r#"partner: "p-one""#), "tenant.update").await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"]["partner"]["slug"],
        "p-one"
    );

    denied(
        &app,
        Some("member"),
        &m(r#"name: "x""#),
        "tenant.update",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        Some("tadmin"),
        &m(r#"plan: "business""#),
        "tenant.update",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        Some("pstaff"),
        &m("partner: null"),
        "tenant.update",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        Some("stranger"),
        &m(r#"name: "x""#),
        "tenant.update",
        "NOT_FOUND",
    )
    .await;
    denied(
        &app,
        Some("tadmin"),
        r#"mutation { updateTenant(input: { tenant: "other", name: "x" }) { tenant { name } } }"#,
        "tenant.update",
        "NOT_FOUND",
    )
    .await;
    denied(
        &app,
        None,
        &m(r#"name: "x""#),
        "tenant.update",
        "UNAUTHENTICATED",
    )
    .await;

    invalid(
        &app,
        "tadmin",
        &m(r#"name: """#),
        "tenant.update",
        "input.name",
    )
    .await;
    invalid(
        &app,
        "root",
        &m(r#"plan: "Gold Plan""#),
        "tenant.update",
        "input.plan",
    )
    .await;
    invalid(
        &app,
        "root",
        r#"mutation { updateTenant(input: { tenant: "acme" }) { tenant { name } } }"#,
        "tenant.update",
        "input",
    )
    .await;
}

#[tokio::test]
async fn tenant_status_moves() {
    let app = world().await;
    let m = |op: &str, reason: &str| {
        format!(
            r#"mutation {{ {op}(input: {{ tenant: "acme", reason: "{reason}" }}) {{ tenant {{ status }} }} }}"#
        )
    };
    let body = allowed(
        &app,
        "pstaff",
        &m("suspendTenant", "unpaid"),
        "tenant.suspend",
    )
    .await;
    assert_eq!(
        body["data"]["suspendTenant"]["tenant"]["status"],
        "SUSPENDED"
    );
    invalid(
        &app,
        "root",
        &m("suspendTenant", "again"),
        "tenant.suspend",
        "input.tenant",
    )
    .await;
    denied(
        &app,
        Some("tadmin"),
        &m("resumeTenant", "please"),
        "tenant.resume",
        "FORBIDDEN",
    )
    .await;
    let body = allowed(&app, "root", &m("resumeTenant", "paid"), "tenant.resume").await;
    assert_eq!(body["data"]["resumeTenant"]["tenant"]["status"], "ACTIVE");
    invalid(
        &app,
        "root",
        &m("resumeTenant", "not suspended"),
        "tenant.resume",
        "input.tenant",
    )
    .await;

    denied(
        &app,
        Some("pstaff"),
        &m("terminateTenant", "bye"),
        "tenant.terminate",
        "FORBIDDEN",
    )
    .await;
    invalid(
        &app,
        "root",
        &m("terminateTenant", &"x".repeat(501)),
        "tenant.terminate",
        "input.reason",
    )
    .await;
    let body = allowed(
        &app,
        "root",
        &m("terminateTenant", "contract ended"),
        "tenant.terminate",
    )
    .await;
    assert_eq!(
        body["data"]["terminateTenant"]["tenant"]["status"],
        "TERMINATED"
    );
    invalid(
        &app,
        "root",
        &m("resumeTenant", "back?"),
        "tenant.resume",
        "input.tenant",
    )
    .await;
    invalid(
        &app,
        "root",
        &m("updateTenant", "x").replace(r#", reason: "x""#, r#", name: "y""#),
        "tenant.update",
        "input.tenant",
    )
    .await;

    // The audit row of the termination carries the move and the reason.
    let mut conn = app.db.connect().await;
    assert_eq!(
        seed::count(&mut conn, "audit_events WHERE action = 'tenant.terminate' AND outcome = 'success' AND details->>'reason' = 'contract ended' AND details->>'from' = 'active' AND request_id IS NOT NULL AND actor_email = 'root@example.com'").await,
        1
    );
}

#[tokio::test]
async fn create_and_update_partner() {
    let app = world().await;
    let m = |slug: &str, margin: &str| {
        format!(
            r#"mutation {{ createPartner(input: {{ slug: "{slug}", name: "Reseller", domain: "reseller.example", marginPct: {margin}, contactInfo: {{ email: "ops@reseller.example" }} }}) {{ partner {{ slug marginPct contactInfo status }} }} }}"#
        )
    };
    let body = allowed(&app, "root", &m("p-two", "12.5"), "partner.create").await;
    assert_eq!(body["data"]["createPartner"]["partner"]["marginPct"], 12.5);
    assert_eq!(
        body["data"]["createPartner"]["partner"]["contactInfo"]["email"],
        "ops@reseller.example"
    );
    denied(
        &app,
        Some("pstaff"),
        &m("p-three", "1"),
        "partner.create",
        "FORBIDDEN",
    )
    .await;
    invalid(
        &app,
        "root",
        &m("p-three", "101"),
        "partner.create",
        "input.marginPct",
    )
    .await;
    invalid(
        &app,
        "root",
        &m("p-three", "1.234"),
        "partner.create",
        "input.marginPct",
    )
    .await;
    refused(
        &app,
        Some("root"),
        &m("p-one", "1"),
        "partner.create",
        "CONFLICT",
        "failure",
    )
    .await;
    let mut conn = app.db.connect().await;
    assert_eq!(
        seed::count(
            &mut conn,
            "audit_events WHERE action = 'partner.create' AND details::text LIKE '%ops@reseller%'"
        )
        .await,
        0,
        "contact details are not copied into the audit log"
    );

    let u = |fields: &str| {
        format!(
            r#"mutation {{ updatePartner(input: {{ partner: "p-one", {fields} }}) {{ partner {{ name domain marginPct }} }} }}"#
        )
    };
    let body = allowed(
        &app,
        "root",
        &u(r#"name: "Partner One", marginPct: 20, domain: null"#),
        "partner.update",
    )
    .await;
    assert_eq!(body["data"]["updatePartner"]["partner"]["marginPct"], 20.0);
    assert!(body["data"]["updatePartner"]["partner"]["domain"].is_null());
    denied(
        &app,
        Some("pstaff"),
        &u(r#"name: "mine""#),
        "partner.update",
        "FORBIDDEN",
    )
    .await;
    denied(
        &app,
        None,
        &u(r#"name: "anon""#),
        "partner.update",
        "UNAUTHENTICATED",
    )
    .await;
    invalid(
        &app,
        "root",
        &u(r#"domain: "not a domain""#),
        "partner.update",
        "input.domain",
    )
    .await;
    invalid(
        &app,
        "root",
        &u(r#"contactInfo: [1, 2]"#),
        "partner.update",
        "input.contactInfo",
    )
    .await;
    refused(
        &app,
        Some("root"),
        r#"mutation { updatePartner(input: { partner: "nope", name: "x" }) { partner { name } } }"#,
        "partner.update",
        "NOT_FOUND",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn partner_status_moves_and_termination_detaches_tenants() {
    let app = world().await;
    let m = |op: &str| {
        format!(
            r#"mutation {{ {op}(input: {{ partner: "p-one", reason: "r" }}) {{ partner {{ status }} }} }}"#
        )
    };
    denied(
        &app,
        Some("pstaff"),
        &m("suspendPartner"),
        "partner.suspend",
        "FORBIDDEN",
    )
    .await;
    let body = allowed(&app, "root", &m("suspendPartner"), "partner.suspend").await;
    assert_eq!(
        body["data"]["suspendPartner"]["partner"]["status"],
        "SUSPENDED"
    );
    invalid(
        &app,
        "root",
        &m("suspendPartner"),
        "partner.suspend",
        "input.partner",
    )
    .await;
    allowed(&app, "root", &m("resumePartner"), "partner.resume").await;
    invalid(
        &app,
        "root",
        &m("resumePartner"),
        "partner.resume",
        "input.partner",
    )
    .await;
    denied(
        &app,
        Some("tadmin"),
        &m("terminatePartner"),
        "partner.terminate",
        "FORBIDDEN",
    )
    .await;

    // Before: the partner's staff see acme.
    let staff_view = r#"{ tenant(slug: "acme") { slug partner { slug } } }"#;
    assert_eq!(
        run(&app, Some("pstaff"), staff_view).await["data"]["tenant"]["slug"],
        "acme"
    );
    let body = allowed(&app, "root", &m("terminatePartner"), "partner.terminate").await;
    assert_eq!(
        body["data"]["terminatePartner"]["partner"]["status"],
        "TERMINATED"
    );
    // After: acme is kept, detached, and invisible to the former partner's staff.
    let body = run(&app, Some("root"), staff_view).await;
    assert_eq!(body["data"]["tenant"]["slug"], "acme");
    assert!(body["data"]["tenant"]["partner"].is_null(), "{body}");
    assert_eq!(
        first_error_code(&run(&app, Some("pstaff"), staff_view).await),
        "NOT_FOUND"
    );
    let mut conn = app.db.connect().await;
    assert_eq!(seed::count(&mut conn, "audit_events WHERE action = 'partner.terminate' AND outcome = 'success' AND details->'detachedTenants' = '[\"acme\"]'::jsonb").await, 1);
    assert_eq!(
        seed::count(&mut conn, "partners WHERE slug = 'p-one'").await,
        1,
        "never deleted"
    );
    invalid(
        &app,
        "root",
        &m("resumePartner"),
        "partner.resume",
        "input.partner",
    )
    .await;
    invalid(&app, "root", r#"mutation { updatePartner(input: { partner: "p-one", name: "x" }) { partner { name } } }"#, "partner.update", "input.partner").await;
}
