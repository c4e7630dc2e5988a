//! Acceptance: the Rust access policy and the SQL visibility filters agree, on random worlds,
//! for tenants, partners, members and audit events; and `tenant.partner` agrees with
//! `node(id:)`.
//!
//! Each world draws partners (some suspended or terminated), tenants (every status, direct or
//! sold by a partner), users with random memberships (owner/admin/member, active or suspended)
//! and partner staff positions (member or admin), a few operators, and audit events pointing
//! at random tenants and partners. Every user is then a viewer twice, with a portal and with
//! an operator token; every (viewer, object) pair is judged by the Rust policy
//! (`Viewer::tenant_access`, `partner_access`, `sees_audit_event`) and by the SQL the lists
//! and `node` use (`domain::*::page`, `members::visible`, `audit::query::list`).

use std::collections::{HashMap, HashSet};

use diesel::sql_types::{Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform_api::auth::policy::AuditRef;
use platform_api::auth::{Audience, TenantRef, VerifiedToken, Viewer};
use platform_api::domain::audit::query::{self, AuditFilter, AuditScope, PageWindow, Towards};
use platform_api::domain::ids::{MemberId, PartnerId, TenantId};
use platform_api::domain::page::{Direction, PageRequest};
use platform_api::domain::{members, partners, tenants, users};
use serde_json::Value;
use uuid::Uuid;

use crate::support::TestApp;

/// A small deterministic generator (xorshift64*), so a failing world can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

struct World {
    /// Tenant → its partner.
    tenants: Vec<(TenantId, Option<PartnerId>)>,
    partners: Vec<PartnerId>,
    /// Membership → its tenant.
    members: Vec<(MemberId, TenantId)>,
    /// Event id → (tenant, partner).
    events: Vec<(i64, Option<TenantId>, Option<PartnerId>)>,
    subjects: Vec<String>,
}

async fn insert_id(conn: &mut AsyncPgConnection, sql: &str, binds: &[&str]) -> Uuid {
    let mut q = diesel::sql_query(sql).into_boxed();
    for b in binds {
        q = q.bind::<Text, _>(b.to_string());
    }
    q.get_result::<Id>(conn).await.expect(sql).id
}

async fn build_world(conn: &mut AsyncPgConnection, rng: &mut Rng) -> World {
    let mut partners = Vec::new();
    let mut live_partners = Vec::new();
    for i in 0..5 {
        let status = *rng.pick(&["active", "active", "suspended", "terminated"]);
        let id = insert_id(
            conn,
            "INSERT INTO partners (slug, name, status) VALUES ($1, $1, $2) RETURNING id",
            &[&format!("partner-{i}"), status],
        )
        .await;
        partners.push(PartnerId(id));
        // A terminated partner's tenants were detached when it was terminated.
        if status != "terminated" {
            live_partners.push(PartnerId(id));
        }
    }
    let mut tenants = Vec::new();
    for i in 0..10 {
        let status = *rng.pick(&["pending", "active", "active", "suspended", "terminated"]);
        let partner =
            (rng.chance(65) && !live_partners.is_empty()).then(|| *rng.pick(&live_partners));
        let id = diesel::sql_query(
            "INSERT INTO tenants (slug, name, status, partner_id) VALUES ($1, $1, $2, $3) RETURNING id",
        )
        .bind::<Text, _>(format!("tenant-{i}"))
        .bind::<Text, _>(status)
        .bind::<Nullable<SqlUuid>, _>(partner.map(|p| p.0))
        .get_result::<Id>(conn)
        .await
        .expect("tenant")
        .id;
        tenants.push((TenantId(id), partner));
    }
    let mut members = Vec::new();
    let mut subjects = Vec::new();
    for i in 0..14 {
        let subject = format!("user-{i}");
        let operator = i < 2 || rng.chance(5);
        let user = diesel::sql_query(
            "INSERT INTO users (authentik_subject, email, name, platform_admin)
             VALUES ($1, $1 || '@example.com', $1, $2) RETURNING id",
        )
        .bind::<Text, _>(&subject)
        .bind::<Bool, _>(operator)
        .get_result::<Id>(conn)
        .await
        .expect("user")
        .id;
        let mut joined = HashSet::new();
        for _ in 0..rng.below(4) {
            let (tenant, _) = *rng.pick(&tenants);
            if !joined.insert(tenant) {
                continue;
            }
            let role = *rng.pick(&["owner", "admin", "member", "member"]);
            let status = *rng.pick(&["active", "active", "active", "suspended"]);
            let id = diesel::sql_query(
                "INSERT INTO memberships (user_id, tenant_id, role, status)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind::<SqlUuid, _>(user)
            .bind::<SqlUuid, _>(tenant.0)
            .bind::<Text, _>(role)
            .bind::<Text, _>(status)
            .get_result::<Id>(conn)
            .await
            .expect("membership")
            .id;
            members.push((MemberId(id), tenant));
        }
        if rng.chance(40) {
            let partner = *rng.pick(&partners);
            let level = *rng.pick(&["admin", "member"]);
            diesel::sql_query(
                "INSERT INTO partner_staff (user_id, partner_id, access_level) VALUES ($1, $2, $3)",
            )
            .bind::<SqlUuid, _>(user)
            .bind::<SqlUuid, _>(partner.0)
            .bind::<Text, _>(level)
            .execute(conn)
            .await
            .expect("staff");
        }
        subjects.push(subject);
    }
    let mut events = Vec::new();
    for _ in 0..40 {
        let tenant = rng.chance(60).then(|| rng.pick(&tenants).0);
        let partner = rng.chance(40).then(|| *rng.pick(&partners));
        #[derive(diesel::QueryableByName)]
        struct Serial {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let id = diesel::sql_query(
            "INSERT INTO audit_events (tenant_id, partner_id, action, target_type, outcome)
             VALUES ($1, $2, 'test.event', 'test', 'success') RETURNING id",
        )
        .bind::<Nullable<SqlUuid>, _>(tenant.map(|t| t.0))
        .bind::<Nullable<SqlUuid>, _>(partner.map(|p| p.0))
        .get_result::<Serial>(conn)
        .await
        .expect("event")
        .id;
        events.push((id, tenant, partner));
    }
    World {
        tenants,
        partners,
        members,
        events,
        subjects,
    }
}

async fn viewer(conn: &mut AsyncPgConnection, subject: &str, audience: Audience) -> Viewer {
    let claims: platform_api::auth::Claims = serde_json::from_value(serde_json::json!({
        "sub": subject, "iss": "test", "aud": "test", "exp": u64::MAX,
    }))
    .unwrap();
    users::load_viewer(conn, &VerifiedToken { claims, audience })
        .await
        .expect("viewer")
}

fn everything<K>() -> PageRequest<K> {
    PageRequest {
        direction: Direction::Forward,
        limit: 1000,
        cursor: None,
    }
}

/// How many pairs were judged, and how many of them were visible.
#[derive(Default, Debug)]
struct Tally {
    pairs: usize,
    visible: usize,
}

async fn check_world(seed: u64) -> HashMap<&'static str, Tally> {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect().await;
    let mut rng = Rng(seed);
    let world = build_world(&mut conn, &mut rng).await;
    let partner_of: HashMap<TenantId, Option<PartnerId>> = world.tenants.iter().copied().collect();
    let member_ids: Vec<MemberId> = world.members.iter().map(|m| m.0).collect();
    let mut tally: HashMap<&'static str, Tally> = HashMap::new();
    let mut judge = |kind: &'static str, rust: bool, sql: bool, what: String| {
        assert_eq!(
            rust, sql,
            "seed {seed}: policy and SQL disagree on {kind} {what}"
        );
        let t = tally.entry(kind).or_default();
        t.pairs += 1;
        t.visible += usize::from(rust);
    };
    for subject in &world.subjects {
        for audience in [Audience::Portal, Audience::Operator] {
            let v = viewer(&mut conn, subject, audience).await;
            let who = format!("{subject} ({audience:?})");

            let rows = tenants::page(&mut conn, &v, &Default::default(), &everything())
                .await
                .unwrap();
            let sql: HashSet<TenantId> = rows.iter().map(|r| r.id).collect();
            for (id, partner_id) in &world.tenants {
                let rust = v
                    .tenant_access(TenantRef {
                        id: *id,
                        partner_id: *partner_id,
                    })
                    .sees();
                judge("tenant", rust, sql.contains(id), format!("{id} for {who}"));
            }

            let rows = partners::page(&mut conn, &v, &Default::default(), &everything())
                .await
                .unwrap();
            let sql: HashSet<PartnerId> = rows.iter().map(|r| r.id).collect();
            for id in &world.partners {
                let rust = v.partner_access(*id).sees();
                judge("partner", rust, sql.contains(id), format!("{id} for {who}"));
            }

            let rows = members::visible(&mut conn, &v.scope(), &member_ids)
                .await
                .unwrap();
            let sql: HashSet<MemberId> = rows.iter().map(|r| r.id).collect();
            for (id, tenant) in &world.members {
                let rust = v
                    .tenant_access(TenantRef {
                        id: *tenant,
                        partner_id: partner_of[tenant],
                    })
                    .sees();
                judge("member", rust, sql.contains(id), format!("{id} for {who}"));
            }

            let window = PageWindow {
                towards: Towards::Older,
                cursor: None,
                rows: 1000,
            };
            let (rows, _) = query::list(
                &mut conn,
                &AuditScope::of(&v),
                &AuditFilter::default(),
                Some(&window),
                false,
            )
            .await
            .unwrap();
            let sql: HashSet<i64> = rows.iter().map(|r| r.id).collect();
            for (id, tenant, partner) in &world.events {
                let rust = v.sees_audit_event(AuditRef {
                    tenant_id: *tenant,
                    partner_id: *partner,
                    tenant_partner_id: tenant.and_then(|t| partner_of[&t]),
                });
                judge(
                    "audit event",
                    rust,
                    sql.contains(id),
                    format!("{id} for {who}"),
                );
            }
        }
    }

    // Through the graph: every partner a viewer sees on `tenant.partner` resolves through
    // `node(id:)`, and so does every tenant of the list.
    for subject in world.subjects.iter().take(8) {
        let token = app.token(subject, "dezky-portal");
        let body = app
            .graphql_as(
                &token,
                "{ tenants(first: 100) { nodes { id partner { id } } } }",
            )
            .await;
        let nodes = body["data"]["tenants"]["nodes"].as_array().unwrap().clone();
        let mut ids: Vec<Value> = nodes.iter().map(|n| n["id"].clone()).collect();
        ids.extend(nodes.iter().filter_map(|n| n["partner"].get("id").cloned()));
        if ids.is_empty() {
            continue;
        }
        let body = app
            .graphql_as_with(
                &token,
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                serde_json::json!({ "ids": ids }),
            )
            .await;
        let found = body["data"]["nodes"].as_array().unwrap();
        assert_eq!(found.len(), ids.len());
        for (asked, got) in ids.iter().zip(found) {
            assert_eq!(
                &got["id"], asked,
                "seed {seed}: {subject} sees {asked} on a tenant but node() does not: {body}"
            );
        }
    }
    tally
}

#[tokio::test]
async fn policy_and_sql_agree_on_random_worlds() {
    let mut total: HashMap<&'static str, Tally> = HashMap::new();
    for seed in [
        0x9E37_79B9_7F4A_7C15,
        0xD1B5_4A32_D192_ED03,
        0x2545_F491_4F6C_DD1D,
    ] {
        for (kind, t) in check_world(seed).await {
            let sum = total.entry(kind).or_default();
            sum.pairs += t.pairs;
            sum.visible += t.visible;
        }
    }
    let pairs: usize = total.values().map(|t| t.pairs).sum();
    assert!(pairs >= 500, "only {pairs} pairs judged");
    for kind in ["tenant", "partner", "member", "audit event"] {
        let t = &total[kind];
        // Both answers occur, so the comparison could have failed either way.
        assert!(
            t.visible > 0 && t.visible < t.pairs,
            "{kind}: {t:?} — the worlds never exercised both answers"
        );
    }
}
