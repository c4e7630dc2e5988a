//! `auditEvents`: filters, scope, pagination, statement counts and indexes.
//!
//! Audit rows are inserted directly with SQL (the table is append-only; inserts are allowed),
//! each labelled by its `request_id` so a test can name the events it expects.

mod anonymous;
mod export;
mod filters;
mod indexes;
mod node;
mod pagination;
mod scope;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::support::world::{Arrange, AuditEvent};
use crate::support::{Level, Role, Tenant, World};

/// Everything a connection query can select, so one query serves every test.
pub const QUERY: &str = r#"
query($filter: AuditEventFilter, $first: Int, $after: String, $last: Int, $before: String) {
  auditEvents(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { requestId } }
  }
}"#;

/// 2026-01-01T00:00:00Z plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

/// The events of [`world`], one per line: label, tenant, partner, actor email, action,
/// target type, target id (`@tenant`: the tenant's uuid), outcome; `-` is NULL. Event `eN`
/// happened at minute N.
const EVENTS: &str = "
e1  acme    reseller-one  root@example.com      tenant.create              tenant   @tenant       success
e2  acme    -             Mallory@Example.com   tenant.update              tenant   @tenant       denied
e3  globex  reseller-two  root@example.com      tenant.create              tenant   @tenant       success
e4  globex  -             carol@globex.example  membership.create          user     user-7        failure
e5  direct  -             root@example.com      tenant.suspend             tenant   @tenant       success
e6  -       reseller-one  bob@example.com       partner.update             partner  reseller-one  success
e7  -       reseller-two  dave@example.com      partner.update             partner  reseller-two  denied
e8  -       -             root@example.com      user.platform_admin.grant  user     user-1        success
e9  acme    -             alice@example.com     membership.role_change     user     promo_50%     success
";

/// A test app with two partners, three tenants (acme belongs to reseller-one, globex to
/// reseller-two, direct to nobody), the nine [`EVENTS`], and people in every role: `root`
/// (platform admin), `alice` (admin of acme), `mallory` (member of acme), `sam` (suspended
/// owner of acme), `bob` (staff of reseller-one), `stranger` (nothing).
pub async fn world() -> World {
    let mut w = World::new()
        .partner("reseller-one")
        .partner("reseller-two")
        .tenant(Tenant::of("acme", "reseller-one"))
        .tenant(Tenant::of("globex", "reseller-two"))
        .tenant("direct")
        .operator("root")
        .member("alice", "acme", Role::Admin)
        .member("mallory", "acme", Role::Member)
        .suspended_member("sam", "acme", Role::Owner)
        .staff("bob", "reseller-one", Level::Member)
        .user("stranger")
        .spawn()
        .await;
    let mut events = Arrange::default();
    for (n, line) in EVENTS.trim().lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let name = |slug: &str| (slug != "-").then(|| slug.to_owned());
        let target = match f[6] {
            "@tenant" => w.id(f[1]).to_string(),
            other => other.to_owned(),
        };
        events = events.event(AuditEvent {
            label: f[0].into(),
            tenant: name(f[1]),
            partner: name(f[2]),
            actor_email: Some(f[3].into()),
            action: f[4].into(),
            target_type: f[5].into(),
            target_id: Some(target),
            outcome: f[7].into(),
            at: at(n as i64 + 1),
        });
    }
    w.arrange(events).await;
    w
}

/// The labels `name` gets for `filter` (first page of 100), newest first; panics on errors.
pub async fn labels_for(w: &World, name: &str, filter: Value) -> Vec<String> {
    let body = w
        .query_with(name, QUERY, json!({ "filter": filter, "first": 100 }))
        .await;
    labels(&body)
}

/// The labels of a response's edges, in order; panics if it has errors.
pub fn labels(body: &Value) -> Vec<String> {
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges in {body}"))
        .iter()
        .map(|e| e["node"]["requestId"].as_str().unwrap().to_owned())
        .collect()
}

/// `["e9", "e2", …]` from `[9, 2, …]`.
pub fn expect(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|n| format!("e{n}")).collect()
}
