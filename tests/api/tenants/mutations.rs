//! Every mutation: allowed, denied (only a `denied` audit row, nothing else changed) and
//! invalid (`BAD_USER_INPUT` on the field, only a `failure` audit row).

use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::tables::count;
use crate::support::{Level, Role, Tenant, World};

/// acme (partner p-one), other (direct); root = operator, tadmin = admin of acme,
/// member = member of acme, pstaff = staff of p-one, stranger = nobody.
async fn world() -> World {
    World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("other")
        .plan("business")
        .operator("root")
        .member("tadmin", "acme", Role::Admin)
        .member("member", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .user("stranger")
        .spawn()
        .await
}

const CREATE_TENANT: &str = r#"
mutation($input: CreateTenantInput!) {
  createTenant(input: $input) {
    tenant { slug status plan { key } primaryDomain partner { slug } }
  }
}"#;

const UPDATE_TENANT: &str = r#"
mutation($input: UpdateTenantInput!) {
  updateTenant(input: $input) {
    tenant { name plan { key } primaryDomain partner { slug } }
  }
}"#;

/// `{ input: { tenant: "acme", ...fields } }`.
fn acme_with(fields: Value) -> Value {
    let mut input = json!({ "tenant": "acme" });
    input
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({ "input": input })
}

#[tokio::test]
async fn create_tenant() {
    let w = world().await;
    let new = |slug: &str| {
        json!({ "input": {
            "slug": slug, "name": "New Co", "partner": "p-one", "primaryDomain": "New.Example"
        } })
    };
    let body = w
        .allowed("root", CREATE_TENANT, new("new-co"), "tenant.create")
        .await;
    let tenant = &body["data"]["createTenant"]["tenant"];
    assert_eq!(
        (tenant["status"].as_str(), tenant["plan"]["key"].as_str()),
        (Some("PENDING"), Some("standard"))
    );
    assert_eq!(tenant["primaryDomain"], "new.example");
    assert_eq!(tenant["partner"]["slug"], "p-one");
    for (who, slug, code) in [
        (Some("pstaff"), "by-staff", "FORBIDDEN"),
        (Some("tadmin"), "by-admin", "FORBIDDEN"),
        (None, "anonymous", "UNAUTHENTICATED"),
    ] {
        w.denied(who, CREATE_TENANT, new(slug), "tenant.create", code)
            .await;
    }
    for (input, field) in [
        (new("Bad Slug"), "input.slug"),
        (
            json!({ "input": { "slug": "ok-slug", "name": "  " } }),
            "input.name",
        ),
        (
            json!({ "input": { "slug": "ok-slug", "name": "x", "partner": "nope" } }),
            "input.partner",
        ),
        (
            json!({ "input": { "slug": "ok-slug", "name": "x", "primaryDomain": "localhost" } }),
            "input.primaryDomain",
        ),
    ] {
        w.invalid("root", CREATE_TENANT, input, "tenant.create", field)
            .await;
    }
    w.refused(
        Some("root"),
        CREATE_TENANT,
        new("acme"),
        "tenant.create",
        "CONFLICT",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn update_tenant_by_role() {
    let w = world().await;
    let update = |fields| acme_with(fields);
    let body = w
        .allowed(
            "tadmin",
            UPDATE_TENANT,
            update(json!({ "name": "Acme Renamed" })),
            "tenant.update",
        )
        .await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"]["name"],
        "Acme Renamed"
    );
    let body = w
        .allowed(
            "pstaff",
            UPDATE_TENANT,
            update(json!({ "plan": "business", "primaryDomain": "acme.example" })),
            "tenant.update",
        )
        .await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"]["plan"]["key"],
        "business"
    );
    let body = w
        .allowed(
            "root",
            UPDATE_TENANT,
            update(json!({ "partner": null, "primaryDomain": null })),
            "tenant.update",
        )
        .await;
    assert!(
        body["data"]["updateTenant"]["tenant"]["partner"].is_null(),
        "{body}"
    );
    assert!(body["data"]["updateTenant"]["tenant"]["primaryDomain"].is_null());
    let body = w
        .allowed(
            "root",
            UPDATE_TENANT,
            update(json!({ "partner": "p-one" })),
            "tenant.update",
        )
        .await;
    assert_eq!(
        body["data"]["updateTenant"]["tenant"]["partner"]["slug"],
        "p-one"
    );

    let other = json!({ "input": { "tenant": "other", "name": "x" } });
    for (who, variables, code) in [
        (Some("member"), update(json!({ "name": "x" })), "FORBIDDEN"),
        (
            Some("tadmin"),
            update(json!({ "plan": "business" })),
            "FORBIDDEN",
        ),
        (
            Some("pstaff"),
            update(json!({ "partner": null })),
            "FORBIDDEN",
        ),
        (
            Some("stranger"),
            update(json!({ "name": "x" })),
            "NOT_FOUND",
        ),
        (Some("tadmin"), other, "NOT_FOUND"),
        (None, update(json!({ "name": "x" })), "UNAUTHENTICATED"),
    ] {
        w.denied(who, UPDATE_TENANT, variables, "tenant.update", code)
            .await;
    }

    for (who, variables, field) in [
        ("tadmin", update(json!({ "name": "" })), "input.name"),
        ("root", update(json!({ "plan": "Gold Plan" })), "input.plan"),
        ("root", update(json!({ "plan": "platinum" })), "input.plan"),
        ("root", update(json!({})), "input"),
    ] {
        w.invalid(who, UPDATE_TENANT, variables, "tenant.update", field)
            .await;
    }
}

const SUSPEND_TENANT: &str = r#"
mutation($input: TenantStatusInput!) {
  suspendTenant(input: $input) { tenant { status } }
}"#;

const RESUME_TENANT: &str = r#"
mutation($input: TenantStatusInput!) {
  resumeTenant(input: $input) { tenant { status } }
}"#;

const TERMINATE_TENANT: &str = r#"
mutation($input: TenantStatusInput!) {
  terminateTenant(input: $input) { tenant { status } }
}"#;

#[tokio::test]
async fn refused_status_moves_name_the_status_and_the_moves_left() {
    let w = world().await;
    let input = json!({ "input": { "tenant": "acme" } });
    w.allowed("root", SUSPEND_TENANT, input.clone(), "tenant.suspend")
        .await;
    let body = w
        .refused(
            Some("root"),
            SUSPEND_TENANT,
            input.clone(),
            "tenant.suspend",
            "BAD_USER_INPUT",
            "failure",
        )
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "the tenant is suspended, so it cannot be suspended; from suspended it can be resumed or terminated",
        "{body}"
    );
    w.allowed("root", TERMINATE_TENANT, input.clone(), "tenant.terminate")
        .await;
    let body = w
        .refused(
            Some("root"),
            RESUME_TENANT,
            input,
            "tenant.resume",
            "BAD_USER_INPUT",
            "failure",
        )
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "the tenant is terminated, so it cannot be resumed; a terminated tenant cannot change any more",
        "{body}"
    );
}

#[tokio::test]
async fn tenant_status_moves() {
    let w = world().await;
    let (suspend, resume, terminate) = (SUSPEND_TENANT, RESUME_TENANT, TERMINATE_TENANT);
    let reason = |reason: &str| json!({ "input": { "tenant": "acme", "reason": reason } });
    let body = w
        .allowed("pstaff", suspend, reason("unpaid"), "tenant.suspend")
        .await;
    assert_eq!(
        body["data"]["suspendTenant"]["tenant"]["status"],
        "SUSPENDED"
    );
    w.invalid(
        "root",
        suspend,
        reason("again"),
        "tenant.suspend",
        "input.tenant",
    )
    .await;
    w.denied(
        Some("tadmin"),
        resume,
        reason("please"),
        "tenant.resume",
        "FORBIDDEN",
    )
    .await;
    let body = w
        .allowed("root", resume, reason("paid"), "tenant.resume")
        .await;
    assert_eq!(body["data"]["resumeTenant"]["tenant"]["status"], "ACTIVE");
    w.invalid(
        "root",
        resume,
        reason("not suspended"),
        "tenant.resume",
        "input.tenant",
    )
    .await;

    w.denied(
        Some("pstaff"),
        terminate,
        reason("bye"),
        "tenant.terminate",
        "FORBIDDEN",
    )
    .await;
    w.invalid(
        "root",
        terminate,
        reason(&"x".repeat(501)),
        "tenant.terminate",
        "input.reason",
    )
    .await;
    let body = w
        .allowed(
            "root",
            terminate,
            reason("contract ended"),
            "tenant.terminate",
        )
        .await;
    assert_eq!(
        body["data"]["terminateTenant"]["tenant"]["status"],
        "TERMINATED"
    );
    w.invalid(
        "root",
        resume,
        reason("back?"),
        "tenant.resume",
        "input.tenant",
    )
    .await;
    w.invalid(
        "root",
        UPDATE_TENANT,
        acme_with(json!({ "name": "y" })),
        "tenant.update",
        "input.tenant",
    )
    .await;

    // The audit row of the termination carries the move and the reason.
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'tenant.terminate' AND outcome = 'success'
               AND details->>'reason' = 'contract ended' AND details->>'from' = 'active'
               AND request_id IS NOT NULL AND actor_email = 'root@example.com'"
        )
        .await,
        1
    );
}

const CREATE_PARTNER: &str = r#"
mutation($input: CreatePartnerInput!) {
  createPartner(input: $input) {
    partner { slug marginPct contactInfo status }
  }
}"#;

const UPDATE_PARTNER: &str = r#"
mutation($input: UpdatePartnerInput!) {
  updatePartner(input: $input) {
    partner { name domain marginPct }
  }
}"#;

#[tokio::test]
async fn create_and_update_partner() {
    let w = world().await;
    let new = |slug: &str, margin: f64| {
        json!({ "input": {
            "slug": slug, "name": "Reseller", "domain": "reseller.example", "marginPct": margin,
            "contactInfo": { "email": "ops@reseller.example" }
        } })
    };
    let body = w
        .allowed("root", CREATE_PARTNER, new("p-two", 12.5), "partner.create")
        .await;
    assert_eq!(body["data"]["createPartner"]["partner"]["marginPct"], 12.5);
    assert_eq!(
        body["data"]["createPartner"]["partner"]["contactInfo"]["email"],
        "ops@reseller.example"
    );
    w.denied(
        Some("pstaff"),
        CREATE_PARTNER,
        new("p-three", 1.0),
        "partner.create",
        "FORBIDDEN",
    )
    .await;
    for margin in [101.0, 1.234] {
        w.invalid(
            "root",
            CREATE_PARTNER,
            new("p-three", margin),
            "partner.create",
            "input.marginPct",
        )
        .await;
    }
    w.refused(
        Some("root"),
        CREATE_PARTNER,
        new("p-one", 1.0),
        "partner.create",
        "CONFLICT",
        "failure",
    )
    .await;
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'partner.create' AND details::text LIKE '%ops@reseller%'"
        )
        .await,
        0,
        "contact details are not copied into the audit log"
    );

    let update = |fields: Value| {
        let mut input = json!({ "partner": "p-one" });
        input
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        json!({ "input": input })
    };
    let body = w
        .allowed(
            "root",
            UPDATE_PARTNER,
            update(json!({ "name": "Partner One", "marginPct": 20, "domain": null })),
            "partner.update",
        )
        .await;
    assert_eq!(body["data"]["updatePartner"]["partner"]["marginPct"], 20.0);
    assert!(body["data"]["updatePartner"]["partner"]["domain"].is_null());
    for (who, name, code) in [
        (Some("pstaff"), "mine", "FORBIDDEN"),
        (None, "anon", "UNAUTHENTICATED"),
    ] {
        w.denied(
            who,
            UPDATE_PARTNER,
            update(json!({ "name": name })),
            "partner.update",
            code,
        )
        .await;
    }
    for (fields, field) in [
        (json!({ "domain": "not a domain" }), "input.domain"),
        (json!({ "contactInfo": [1, 2] }), "input.contactInfo"),
    ] {
        w.invalid(
            "root",
            UPDATE_PARTNER,
            update(fields),
            "partner.update",
            field,
        )
        .await;
    }
    w.refused(
        Some("root"),
        UPDATE_PARTNER,
        json!({ "input": { "partner": "nope", "name": "x" } }),
        "partner.update",
        "NOT_FOUND",
        "failure",
    )
    .await;
}

const SUSPEND_PARTNER: &str = r#"
mutation($input: PartnerStatusInput!) {
  suspendPartner(input: $input) { partner { status } }
}"#;

const RESUME_PARTNER: &str = r#"
mutation($input: PartnerStatusInput!) {
  resumePartner(input: $input) { partner { status } }
}"#;

const TERMINATE_PARTNER: &str = r#"
mutation($input: PartnerStatusInput!) {
  terminatePartner(input: $input) { partner { status } }
}"#;

#[tokio::test]
async fn partner_status_moves_and_termination_detaches_tenants() {
    let w = world().await;
    let (suspend, resume, terminate) = (SUSPEND_PARTNER, RESUME_PARTNER, TERMINATE_PARTNER);
    let p_one = || json!({ "input": { "partner": "p-one", "reason": "r" } });
    w.denied(
        Some("pstaff"),
        suspend,
        p_one(),
        "partner.suspend",
        "FORBIDDEN",
    )
    .await;
    let body = w.allowed("root", suspend, p_one(), "partner.suspend").await;
    assert_eq!(
        body["data"]["suspendPartner"]["partner"]["status"],
        "SUSPENDED"
    );
    w.invalid("root", suspend, p_one(), "partner.suspend", "input.partner")
        .await;
    w.allowed("root", resume, p_one(), "partner.resume").await;
    w.invalid("root", resume, p_one(), "partner.resume", "input.partner")
        .await;
    w.denied(
        Some("tadmin"),
        terminate,
        p_one(),
        "partner.terminate",
        "FORBIDDEN",
    )
    .await;

    // Before: the partner's staff see acme.
    const STAFF_VIEW: &str = r#"{ tenant(slug: "acme") { slug partner { slug } } }"#;
    assert_eq!(
        w.run(Some("pstaff"), STAFF_VIEW, json!({})).await["data"]["tenant"]["slug"],
        "acme"
    );
    let body = w
        .allowed("root", terminate, p_one(), "partner.terminate")
        .await;
    assert_eq!(
        body["data"]["terminatePartner"]["partner"]["status"],
        "TERMINATED"
    );
    // After: acme is kept, detached, and invisible to the former partner's staff.
    let body = w.run(Some("root"), STAFF_VIEW, json!({})).await;
    assert_eq!(body["data"]["tenant"]["slug"], "acme");
    assert!(body["data"]["tenant"]["partner"].is_null(), "{body}");
    assert_eq!(
        first_error_code(&w.run(Some("pstaff"), STAFF_VIEW, json!({})).await),
        "NOT_FOUND"
    );
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'partner.terminate' AND outcome = 'success'
               AND details->'detachedTenants' = '[\"acme\"]'::jsonb"
        )
        .await,
        1
    );
    assert_eq!(
        count(&mut conn, "partners WHERE slug = 'p-one'").await,
        1,
        "never deleted"
    );
    w.invalid("root", resume, p_one(), "partner.resume", "input.partner")
        .await;
    w.invalid(
        "root",
        UPDATE_PARTNER,
        json!({ "input": { "partner": "p-one", "name": "x" } }),
        "partner.update",
        "input.partner",
    )
    .await;
}
