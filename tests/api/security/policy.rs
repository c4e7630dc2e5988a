//! `Tenant.securityPolicy` and `updateSecurityPolicy`: defaults, validation (nothing
//! written), access, the lockout confirmation, audit rows with before and after.

use serde_json::json;

use super::{POLICY, UPDATE, code, last_details};
use crate::support::{Level, Role, Tenant, World};

async fn world() -> World {
    World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one"))
        .tenant("other")
        .operator("root")
        .member("owner", "acme", Role::Owner)
        .member("tadmin", "acme", Role::Admin)
        .member("member", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .member("outsider", "other", Role::Owner)
        .spawn()
        .await
}

fn input(fields: serde_json::Value) -> serde_json::Value {
    let mut input = json!({ "tenant": "acme" });
    input
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({ "input": input })
}

#[tokio::test]
async fn the_defaults_and_their_enforcement_are_reported_to_admins_only() {
    let w = world().await;
    let body = w
        .query_with("tadmin", POLICY, json!({ "slug": "acme" }))
        .await;
    let p = &body["data"]["tenant"]["securityPolicy"];
    assert_eq!(p["mfaMode"], "OPTIONAL", "{body}");
    assert_eq!(p["sessionIdleMinutes"], 60);
    assert_eq!(p["sessionAbsoluteHours"], 24);
    assert_eq!(p["allowedCountries"], json!([]));
    assert_eq!(p["ipAllowlist"], json!([]));
    let by_field = |f: &str| {
        p["enforcement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == f)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_field("IP_ALLOWLIST")["status"], "ENFORCED");
    for f in ["MFA_MODE", "SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS"] {
        let e = by_field(f);
        assert_eq!(e["status"], "NOT_ENFORCED");
        assert!(e["reason"].as_str().unwrap().contains("Authentik"), "{e}");
    }
    let countries = by_field("ALLOWED_COUNTRIES");
    assert_eq!(countries["status"], "NOT_ENFORCED");
    assert!(
        countries["reason"]
            .as_str()
            .unwrap()
            .contains("GEOIP_DATABASE")
    );

    for who in ["owner", "pstaff", "root"] {
        let body = w.query_with(who, POLICY, json!({ "slug": "acme" })).await;
        assert!(body.get("errors").is_none(), "{who}: {body}");
    }
    let body = w
        .query_with("member", POLICY, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = w
        .query_with("outsider", POLICY, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
}

#[tokio::test]
async fn an_update_is_normalised_and_audited_with_before_and_after() {
    let w = world().await;
    let vars = input(json!({
        "mfaMode": "REQUIRED_FOR_ADMINS",
        "sessionIdleMinutes": 30,
        "sessionAbsoluteHours": 8,
        "allowedCountries": ["de", "FR", "DE"],
        "ipAllowlist": ["127.0.0.1", "10.1.2.3/8", "2001:DB8::1/32", "127.0.0.1/32"]
    }));
    let body = w
        .allowed("tadmin", UPDATE, vars, "security.update_policy")
        .await;
    let p = &body["data"]["updateSecurityPolicy"]["policy"];
    assert_eq!(p["mfaMode"], "REQUIRED_FOR_ADMINS");
    assert_eq!(p["allowedCountries"], json!(["DE", "FR"]));
    assert_eq!(
        p["ipAllowlist"],
        json!(["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"])
    );
    let body = w
        .query_with("tadmin", POLICY, json!({ "slug": "acme" }))
        .await;
    assert_eq!(
        body["data"]["tenant"]["securityPolicy"]["sessionIdleMinutes"],
        30
    );

    // A partial change keeps the rest; the audit row holds both versions.
    let vars = input(json!({ "mfaMode": "REQUIRED" }));
    w.allowed("owner", UPDATE, vars, "security.update_policy")
        .await;
    let details = last_details(&w, "security.update_policy").await;
    assert_eq!(
        details["before"]["mfaMode"], "required_for_admins",
        "{details}"
    );
    assert_eq!(details["after"]["mfaMode"], "required");
    assert_eq!(details["after"]["sessionIdleMinutes"], 30);
    assert_eq!(
        details["before"]["ipAllowlist"],
        details["after"]["ipAllowlist"]
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let w = world().await;
    let cases = [
        (
            json!({ "ipAllowlist": ["10.0.0.0/8", "10.0.0.0/33"] }),
            "input.ipAllowlist[1]",
        ),
        (
            json!({ "ipAllowlist": ["not-an-ip"] }),
            "input.ipAllowlist[0]",
        ),
        (
            json!({ "ipAllowlist": ["2001:db8::/129"] }),
            "input.ipAllowlist[0]",
        ),
        (
            json!({ "allowedCountries": ["DE", "XX"] }),
            "input.allowedCountries[1]",
        ),
        (
            json!({ "allowedCountries": ["UK"] }),
            "input.allowedCountries[0]",
        ),
        (
            json!({ "sessionIdleMinutes": 4 }),
            "input.sessionIdleMinutes",
        ),
        (
            json!({ "sessionIdleMinutes": 1441 }),
            "input.sessionIdleMinutes",
        ),
        (
            json!({ "sessionAbsoluteHours": 0 }),
            "input.sessionAbsoluteHours",
        ),
        (
            json!({ "sessionAbsoluteHours": 721 }),
            "input.sessionAbsoluteHours",
        ),
        (
            json!({ "sessionIdleMinutes": 120, "sessionAbsoluteHours": 1 }),
            "input.sessionIdleMinutes",
        ),
    ];
    for (fields, field) in cases {
        w.invalid(
            "tadmin",
            UPDATE,
            input(fields),
            "security.update_policy",
            field,
        )
        .await;
    }
    // IPv6 blocks are fine.
    w.allowed(
        "tadmin",
        UPDATE,
        input(json!({ "ipAllowlist": ["::1", "127.0.0.0/8", "fd00::/8"] })),
        "security.update_policy",
    )
    .await;
}

#[tokio::test]
async fn members_and_strangers_are_refused_without_a_change() {
    let w = world().await;
    let vars = input(json!({ "mfaMode": "OFF" }));
    w.denied(
        Some("member"),
        UPDATE,
        vars.clone(),
        "security.update_policy",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("outsider"),
        UPDATE,
        vars.clone(),
        "security.update_policy",
        "NOT_FOUND",
    )
    .await;
    w.denied(
        None,
        UPDATE,
        vars.clone(),
        "security.update_policy",
        "UNAUTHENTICATED",
    )
    .await;
    w.allowed("pstaff", UPDATE, vars.clone(), "security.update_policy")
        .await;
    w.allowed("root", UPDATE, vars, "security.update_policy")
        .await;
}

#[tokio::test]
async fn an_allowlist_that_locks_the_caller_out_needs_confirmation() {
    let w = world().await;
    // Requests of the tests come from 127.0.0.1.
    let lockout = input(json!({ "ipAllowlist": ["192.0.2.0/24"] }));
    w.invalid(
        "tadmin",
        UPDATE,
        lockout.clone(),
        "security.update_policy",
        "input.confirmLockout",
    )
    .await;
    // One that keeps the caller in needs nothing more.
    w.allowed(
        "tadmin",
        UPDATE,
        input(json!({ "ipAllowlist": ["192.0.2.0/24", "127.0.0.0/8"] })),
        "security.update_policy",
    )
    .await;
    let mut confirmed = lockout;
    confirmed["input"]["confirmLockout"] = json!(true);
    w.allowed("tadmin", UPDATE, confirmed, "security.update_policy")
        .await;
    // Locked out now: the admin's next request about the tenant is refused, with why.
    let body = w
        .query_with("tadmin", POLICY, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("127.0.0.1") && message.contains("allowlist"),
        "{message}"
    );
    let body = w
        .query_with("member", super::NAME, json!({ "slug": "acme" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    // Partner staff and operators are not members: no lockout for them.
    let other = input(json!({ "ipAllowlist": ["198.51.100.0/24"] }));
    w.allowed("pstaff", UPDATE, other.clone(), "security.update_policy")
        .await;
    w.allowed("root", UPDATE, other, "security.update_policy")
        .await;
}
