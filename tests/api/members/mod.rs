//! Members (issue 17): `createMember` and the member lifecycle through durable jobs against
//! the upstream fakes, `memberProgress`, seats, and what must not happen (no upstream call
//! when denied, nothing written when invalid, no password at rest or in a log line).

mod create;
mod failures;
mod files;
mod lifecycle;
mod logout;
mod refusals;
mod seat_warnings;
mod secrets;
mod statements;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::domains::domain_row;
use crate::provisioning::{Stack, quick_jobs};
use crate::support::{Level, Role, Tenant, TestApp, World};

pub const CREATE: &str = r#"
mutation($input: CreateMemberInput!) {
  createMember(input: $input) {
    member { id role status user { email name } steps { step status } }
    oneTimePassword
    warnings
  }
}"#;

pub const RETRY: &str = r#"
mutation($input: MemberRefInput!) {
  retryMember(input: $input) { member { status } }
}"#;

pub const MEMBERS: &str = r#"
query($slug: String!) {
  tenant(slug: $slug) {
    members(first: 50) {
      nodes { id role status user { email } steps { step status attempts lastError } }
    }
  }
}"#;

/// acme (partner p-one, active, 50 seats, domain acme.example verified, acme-new.example pending) and
/// other (active, other.example). root = operator; owner, ann (admin), mo (member) of acme;
/// pstaff = staff of p-one; olga = owner of other; stranger = nobody.
pub async fn world(stack: &Stack, workers: usize) -> World {
    let upstreams = stack.config();
    let app = TestApp::spawn_with(|c| {
        c.upstreams = upstreams;
        quick_jobs(c, workers);
    })
    .await;
    let w = World::new()
        .partner("p-one")
        .tenant(Tenant::of("acme", "p-one").status("active"))
        .tenant(Tenant::new("other").status("active"))
        .operator("root")
        .member("owner", "acme", Role::Owner)
        .member("ann", "acme", Role::Admin)
        .member("mo", "acme", Role::Member)
        .staff("pstaff", "p-one", Level::Member)
        .member("olga", "other", Role::Owner)
        .user("stranger")
        .build(app)
        .await;
    domain_row(&w, "acme", "acme.example", "verified", None).await;
    domain_row(&w, "acme", "acme-new.example", "pending_verification", None).await;
    domain_row(&w, "other", "other.example", "verified", None).await;
    // Seats to spare (tests of the seat limit lower them).
    {
        use diesel_async::RunQueryDsl;
        let mut conn = w.db.connect().await;
        diesel::sql_query(format!(
            "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
             VALUES ('{}', 'standard', 'active', 50, 1000, 'EUR', 'monthly')",
            w.id("acme")
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    w
}

/// `createMember` input.
pub fn input(tenant: &str, email: &str, role: &str) -> Value {
    json!({ "input": { "tenant": tenant, "email": email, "name": "Ada Lovelace", "role": role } })
}

/// Creates a member as `who`; returns the payload.
pub async fn create(w: &World, who: &str, tenant: &str, email: &str) -> Value {
    let body = w
        .allowed(who, CREATE, input(tenant, email, "MEMBER"), "member.create")
        .await;
    body["data"]["createMember"].clone()
}

/// The members of `slug` as the operator sees them.
pub async fn members(w: &World, slug: &str) -> Vec<Value> {
    let body = w.query_with("root", MEMBERS, json!({ "slug": slug })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["tenant"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// The member of `slug` with `email`.
pub async fn member(w: &World, slug: &str, email: &str) -> Value {
    members(w, slug)
        .await
        .into_iter()
        .find(|m| m["user"]["email"] == email)
        .unwrap_or_else(|| panic!("no member {email} in {slug}"))
}

/// Polls until the member's status is `status` with no open step; panics after 120 s (the machine may be busy).
pub async fn settled(w: &World, slug: &str, email: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = member(w, slug, email).await;
        let open = m["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["status"] == "PENDING" || s["status"] == "RUNNING");
        if m["status"] == status && !open {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out: {m:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Calls received by every fake.
pub fn upstream_calls(stack: &Stack) -> usize {
    stack.authentik.calls().len() + stack.stalwart.calls().len() + stack.ocis.calls().len()
}

/// Polls until `email` is no member of `slug` any more (its removal finished); panics after
/// 120 s.
pub async fn gone(w: &World, slug: &str, email: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while members(w, slug)
        .await
        .iter()
        .any(|m| m["user"]["email"] == email)
    {
        assert!(
            Instant::now() < deadline,
            "removal of {email} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes `email` (a user already) a member of `other` too, as the groups claim would.
pub async fn also_in_other(w: &World, email: &str) {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query(
        "INSERT INTO memberships (user_id, tenant_id, role)
         SELECT id, $1, 'member' FROM users WHERE email = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(w.id("other"))
    .bind::<diesel::sql_types::Text, _>(email)
    .execute(&mut conn)
    .await
    .unwrap();
}
