//! `auditEvents`: filters, scope, pagination, statement counts and indexes.
//!
//! Audit rows are inserted directly with SQL (the table is append-only; inserts are allowed),
//! each labelled by its `request_id` so a test can name the events it expects.

mod filters;
mod indexes;
mod node;
mod pagination;
mod scope;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform_api::auth::dev_issuer::DevTokenRequest;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, seed};

/// Everything a connection query can select, so one query serves every test.
pub const QUERY: &str =
    "query($filter: AuditEventFilter, $first: Int, $after: String, $last: Int, $before: String) {
  auditEvents(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { requestId } }
  }
}";

/// 2026-01-01T00:00:00Z plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

/// One audit row to insert.
pub struct Event<'a> {
    /// Label, stored as `request_id`.
    pub label: &'a str,
    pub tenant: Option<Uuid>,
    pub partner: Option<Uuid>,
    pub actor_email: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub outcome: &'a str,
    pub at: DateTime<Utc>,
}

/// Inserts `event` (ids ascend in insertion order).
pub async fn insert(conn: &mut AsyncPgConnection, event: &Event<'_>) {
    diesel::sql_query(
        "INSERT INTO audit_events (request_id, tenant_id, partner_id, actor_email, action,
                                   target_type, target_id, outcome, details, ip, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{\"note\": \"seeded\"}', '192.0.2.1', $9)",
    )
    .bind::<Text, _>(event.label)
    .bind::<Nullable<SqlUuid>, _>(event.tenant)
    .bind::<Nullable<SqlUuid>, _>(event.partner)
    .bind::<Nullable<Text>, _>(event.actor_email)
    .bind::<Text, _>(event.action)
    .bind::<Text, _>(event.target_type)
    .bind::<Nullable<Text>, _>(event.target_id)
    .bind::<Text, _>(event.outcome)
    .bind::<Timestamptz, _>(event.at)
    .execute(conn)
    .await
    .expect("insert audit event");
}

/// A portal or operator token for `sub` (email `<sub>@example.com`).
pub fn token(app: &TestApp, sub: &str, aud: &str) -> String {
    let request = DevTokenRequest {
        sub: sub.into(),
        aud: aud.into(),
        email: Some(format!("{sub}@example.com")),
        name: None,
        groups: None,
    };
    app.token_with(&request, Duration::from_secs(600))
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
pub struct World {
    pub app: TestApp,
    /// Ids of the partners, tenants and users, by slug or subject.
    pub ids: HashMap<&'static str, Uuid>,
}

pub async fn world() -> World {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let mut ids = HashMap::new();
    for slug in ["reseller-one", "reseller-two"] {
        ids.insert(slug, seed::partner(&mut conn, slug).await);
    }
    for (slug, partner) in [
        ("acme", Some("reseller-one")),
        ("globex", Some("reseller-two")),
        ("direct", None),
    ] {
        let partner = partner.map(|p| ids[p]);
        ids.insert(slug, seed::tenant(&mut conn, slug, partner).await);
    }
    seed::user(&mut conn, "root", true).await;
    for sub in ["alice", "mallory", "sam", "bob", "stranger"] {
        ids.insert(sub, seed::user(&mut conn, sub, false).await);
    }
    seed::membership(&mut conn, ids["alice"], ids["acme"], "admin", "active").await;
    seed::membership(&mut conn, ids["mallory"], ids["acme"], "member", "active").await;
    seed::membership(&mut conn, ids["sam"], ids["acme"], "owner", "suspended").await;
    seed::staff(&mut conn, ids["bob"], ids["reseller-one"], "member").await;

    for (n, line) in EVENTS.trim().lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let id = |slug: &str| (slug != "-").then(|| ids[slug]);
        let tenant = id(f[1]);
        let target = match f[6] {
            "@tenant" => tenant.unwrap().to_string(),
            other => other.to_owned(),
        };
        let event = Event {
            label: f[0],
            tenant,
            partner: id(f[2]),
            actor_email: Some(f[3]),
            action: f[4],
            target_type: f[5],
            target_id: Some(&target),
            outcome: f[7],
            at: at(n as i64 + 1),
        };
        insert(&mut conn, &event).await;
    }
    World { app, ids }
}

impl World {
    /// A token of `sub` with the portal audience (`root` gets the operator audience).
    pub fn token(&self, sub: &str) -> String {
        let aud = if sub == "root" {
            "dezky-operator"
        } else {
            "dezky-portal"
        };
        token(&self.app, sub, aud)
    }

    /// The labels `sub` gets for `filter` (first page of 100), newest first; panics on errors.
    pub async fn labels(&self, sub: &str, filter: Value) -> Vec<String> {
        let body = self
            .app
            .graphql_as_with(
                &self.token(sub),
                QUERY,
                json!({ "filter": filter, "first": 100 }),
            )
            .await;
        labels(&body)
    }
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
