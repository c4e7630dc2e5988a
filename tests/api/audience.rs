//! One schema per audience: introspection answers each caller with its audience's view (over
//! HTTP and WebSocket), and an operator-only field that the portal view hides is still refused
//! when a portal caller names it anyway.

use platform_api::graphql::audience::SchemaView;
use platform_api::graphql::sdl::{INTROSPECTION, print, sdl_for};
use serde_json::{Value, json};

use crate::support::app::first_error_code;
use crate::support::ws::{Incoming, WsClient};
use crate::support::{Level, Role, Tenant, TestApp, World};

/// Every operator-only root field (by root type), and the types only they reach.
const OPERATOR_ONLY_FIELDS: &[(&str, &str)] = &[
    ("Query", "systemStatus"),
    ("Query", "featureFlags"),
    ("Query", "featureFlag"),
    ("Mutation", "createTenant"),
    ("Mutation", "terminateTenant"),
    ("Mutation", "createPartner"),
    ("Mutation", "updatePartner"),
    ("Mutation", "suspendPartner"),
    ("Mutation", "resumePartner"),
    ("Mutation", "terminatePartner"),
    ("Mutation", "createFeatureFlag"),
    ("Mutation", "updateFeatureFlag"),
    ("Mutation", "archiveFeatureFlag"),
    ("UpdateTenantInput", "partner"),
];
const OPERATOR_ONLY_TYPES: &[&str] = &[
    "SystemStatus",
    "FeatureFlag",
    "FeatureFlagConnection",
    "FeatureFlagRule",
    "FeatureFlagPayload",
    "PartnerPayload",
    "CreateTenantInput",
    "CreatePartnerInput",
    "UpdatePartnerInput",
    "PartnerStatusInput",
    "CreateFeatureFlagInput",
];

/// p-one owns acme; root is an operator, tadmin administers acme, pstaff is p-one's staff,
/// outsider is an operator-audience caller without `platform_admin`.
async fn world() -> World {
    World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .operator("root")
        .member("tadmin", "acme", Role::Admin)
        .staff("pstaff", "p-one", Level::Admin)
        .user("outsider")
        .spawn()
        .await
}

async fn introspect(app: &TestApp, bearer: Option<&str>) -> String {
    let body = match bearer {
        Some(t) => app.graphql_as(t, INTROSPECTION).await,
        None => app.graphql(INTROSPECTION).await,
    };
    assert!(body.get("errors").is_none(), "{body}");
    print(&body["data"]["__schema"])
}

/// The body of the type (or input) `name` in an SDL.
fn block<'a>(sdl: &'a str, name: &str) -> &'a str {
    ["type", "input"]
        .iter()
        .find_map(|kw| sdl.split(&format!("\n{kw} {name} {{")).nth(1))
        .and_then(|rest| rest.split("\n}").next())
        .unwrap_or_else(|| panic!("{name} is in the SDL"))
}

fn assert_portal_view(sdl: &str, who: &str) {
    for (ty, field) in OPERATOR_ONLY_FIELDS {
        let body = block(sdl, ty);
        assert!(
            ![format!("\n\t{field}:"), format!("\n\t{field}(")]
                .iter()
                .any(|f| body.contains(f.as_str())),
            "{who} sees {ty}.{field}"
        );
    }
    for name in OPERATOR_ONLY_TYPES {
        let declared = [format!("type {name} "), format!("input {name} ")];
        assert!(
            !declared.iter().any(|d| sdl.contains(d.as_str())),
            "{who} sees type {name}"
        );
    }
}

#[tokio::test]
async fn portal_callers_and_anonymous_introspection_get_the_portal_view() {
    let app = world().await;
    let portal = sdl_for(SchemaView::Portal).await;
    assert_portal_view(&portal, "the portal view");
    for who in ["tadmin", "pstaff"] {
        let sdl = introspect(&app, Some(&app.token(who))).await;
        assert_eq!(sdl, portal, "{who} (portal token) gets the portal view");
    }
    assert_eq!(
        introspect(&app, None).await,
        portal,
        "no token: the portal view"
    );
    assert_eq!(
        introspect(&app, Some("not.a.token")).await,
        portal,
        "an invalid token: the portal view, and introspection still answers"
    );
    // Targeted lookups follow the same view.
    let body = app
        .query(
            "pstaff",
            r#"{
              status: __type(name: "SystemStatus") { name }
              flag: __type(name: "FeatureFlag") { name }
              mutation: __type(name: "Mutation") { fields { name } }
              input: __type(name: "UpdateTenantInput") { inputFields { name } }
            }"#,
        )
        .await;
    assert!(body["data"]["status"].is_null(), "{body}");
    assert!(body["data"]["flag"].is_null(), "{body}");
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&body["data"]["mutation"]["fields"]),
        [
            "updateTenant",
            "suspendTenant",
            "resumeTenant",
            // Partner staff (portal audience) re-run their tenants' provisioning.
            "reconcileTenant",
            "retryProvisioningStep",
            // Tenant admins (and the partner's staff) manage the tenant's mail domains.
            "addDomain",
            "setDomainDmarc",
            "setPrimaryDomain",
            "recheckDomain",
            "removeDomain",
            // An impersonated user's portal ends the session from its banner.
            "endImpersonation",
            // Tenant admins (and the partner's staff) manage the tenant's members.
            "createMember",
            "retryMember",
            "suspendMember",
            "resumeMember",
            "forceLogoutMember",
            "resetMemberPassword",
            "changeMemberRole",
            "removeMember",
            // Branding (tenant admins, partner admins), the partner's self-service, and
            // workspaces for any signed-in person.
            "updateBranding",
            "updateEmailTemplate",
            "updatePartnerSettings",
            "inviteStaff",
            "changeStaffAccess",
            "removeStaff",
            "createWorkspace",
            // Tenant admins (and the partner's staff) change the subscription's seats, the
            // billing details and the card.
            "setSubscriptionSeats",
            "updateBillingDetails",
            "startPaymentMethodSetup",
            "setDefaultPaymentMethod",
            // Audit exports (any signed-in person, within their scope) and the partner's
            // saved reports.
            "exportAuditEvents",
            "saveReport",
            "deleteSavedReport",
            // Tenant admins set the security policy and manage the tenant's SSO apps.
            "updateSecurityPolicy",
            "createSsoApp",
            "updateSsoApp",
            "rotateSsoAppSecret",
            "deleteSsoApp"
        ]
    );
    assert_eq!(
        names(&body["data"]["input"]["inputFields"]),
        [
            "tenant",
            "name",
            "plan",
            "primaryDomain",
            "industry",
            "brandColor"
        ]
    );
}

#[tokio::test]
async fn operator_audience_introspection_gets_the_whole_schema() {
    let app = world().await;
    let whole = platform_api::graphql::sdl();
    for (ty, field) in OPERATOR_ONLY_FIELDS {
        let body = block(&whole, ty);
        assert!(
            body.contains(&format!("\n\t{field}:")) || body.contains(&format!("\n\t{field}(")),
            "the whole schema has {ty}.{field}"
        );
    }
    let root = app.token("root");
    assert_eq!(introspect(&app, Some(&root)).await, whole);
    // The audience decides the view; the guards still decide what executes.
    let outsider = app.who("outsider").via_operator().sign(&app);
    assert_eq!(introspect(&app, Some(&outsider)).await, whole);
    let body = app
        .graphql_as(&outsider, "{ systemStatus { environment } }")
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn hidden_fields_are_still_refused_for_portal_callers() {
    let app = world().await;
    for who in ["pstaff", "tadmin"] {
        let t = app.token(who);
        for query in [
            "{ systemStatus { environment } }",
            "{ featureFlags { totalCount } }",
            r#"{ featureFlag(key: "beta") { key } }"#,
        ] {
            let body = app.graphql_as(&t, query).await;
            assert_eq!(
                first_error_code(&body),
                "FORBIDDEN",
                "{who}: {query}\n{body}"
            );
            // Non-null fields take `data` with them; the nullable lookup `featureFlag` is null.
            let nothing = body["data"].is_null()
                || body["data"]
                    .as_object()
                    .is_some_and(|d| d.values().all(|v| v.is_null()));
            assert!(nothing, "{who}: nothing answered: {body}");
        }
    }
    let mutations = [
        (
            r#"mutation { createTenant(input: { slug: "new-co", name: "New" }) { tenant { slug } } }"#,
            "tenant.create",
        ),
        (
            r#"mutation { terminateTenant(input: { tenant: "acme" }) { tenant { slug } } }"#,
            "tenant.terminate",
        ),
        (
            r#"mutation { updateTenant(input: { tenant: "acme", partner: null }) { tenant { slug } } }"#,
            "tenant.update",
        ),
        (
            r#"mutation { createPartner(input: { slug: "p-two", name: "Two" }) { partner { slug } } }"#,
            "partner.create",
        ),
        (
            r#"mutation { updatePartner(input: { partner: "p-one", marginPct: 50 }) { partner { slug } } }"#,
            "partner.update",
        ),
        (
            r#"mutation { suspendPartner(input: { partner: "p-one" }) { partner { slug } } }"#,
            "partner.suspend",
        ),
        (
            r#"mutation { resumePartner(input: { partner: "p-one" }) { partner { slug } } }"#,
            "partner.resume",
        ),
        (
            r#"mutation { terminatePartner(input: { partner: "p-one" }) { partner { slug } } }"#,
            "partner.terminate",
        ),
        (
            r#"mutation { createFeatureFlag(input: { key: "beta", defaultValue: true }) { featureFlag { key } } }"#,
            "feature_flag.create",
        ),
        (
            r#"mutation { updateFeatureFlag(input: { key: "beta", enabled: false }) { featureFlag { key } } }"#,
            "feature_flag.update",
        ),
        (
            r#"mutation { archiveFeatureFlag(input: { key: "beta" }) { featureFlag { key } } }"#,
            "feature_flag.archive",
        ),
    ];
    for (mutation, action) in mutations {
        // Partner staff are the portal's strongest callers.
        app.denied(Some("pstaff"), mutation, json!({}), action, "FORBIDDEN")
            .await;
    }
}

async fn introspect_over_ws(app: &TestApp, token: &str) -> String {
    let mut ws = WsClient::connect_authenticated(app.addr, token).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": INTROSPECTION } }))
        .await;
    match ws.next().await {
        Incoming::Json(m) if m["type"] == "next" => {
            assert!(m["payload"].get("errors").is_none(), "{m}");
            print(&m["payload"]["data"]["__schema"])
        }
        other => panic!("expected the introspection answer, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_introspection_follows_the_audience_too() {
    let app = world().await;
    assert_eq!(
        introspect_over_ws(&app, &app.token("pstaff")).await,
        sdl_for(SchemaView::Portal).await
    );
    assert_eq!(
        introspect_over_ws(&app, &app.token("root")).await,
        platform_api::graphql::sdl()
    );
}
