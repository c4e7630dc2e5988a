//! Acceptance: the Rust access policy and the SQL visibility filters agree, on random worlds,
//! for tenants, partners, members, mail domains and audit events; and `tenant.partner` agrees with
//! `node(id:)`.
//!
//! Each world draws partners (some suspended or terminated), tenants (every status, direct or
//! sold by a partner), users with random memberships (owner/admin/member, active or suspended)
//! and partner staff positions (member or admin), a few operators, and audit events pointing
//! at random tenants and partners, and arranges it with the `World` builder. Every user is then a viewer twice, with a portal and with
//! an operator token; every (viewer, object) pair is judged by the Rust policy
//! (`Viewer::tenant_access`, `partner_access`, `sees_audit_event`) and by the SQL the lists
//! and `node` use (`domain::*::page`, `members::visible`, `domains::visible`,
//! `audit::query::list`).

use std::collections::{HashMap, HashSet};

use diesel::sql_types::{BigInt, Nullable, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use platform_api::auth::policy::AuditRef;
use platform_api::auth::{Audience, TenantRef, VerifiedToken, Viewer};
use platform_api::domain::audit::query::{self, AuditFilter, AuditScope, PageWindow, Towards};
use platform_api::domain::ids::{DomainId, MemberId, PartnerId, TenantId};
use platform_api::domain::page::{Direction, PageRequest};
use platform_api::domain::{domains, members, partners, tenants, users};
use serde_json::Value;
use uuid::Uuid;

use crate::support::world::AuditEvent;
use crate::support::{Level, Role, Tenant, World};

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

struct Drawn {
    /// Tenant → its partner.
    tenants: Vec<(TenantId, Option<PartnerId>)>,
    partners: Vec<PartnerId>,
    /// Membership → its tenant.
    members: Vec<(MemberId, TenantId)>,
    /// Mail domain → its tenant.
    domains: Vec<(DomainId, TenantId)>,
    /// Event id → (tenant, partner).
    events: Vec<(i64, Option<TenantId>, Option<PartnerId>)>,
    subjects: Vec<String>,
}

/// Draws a world with `rng` and arranges it through the [`World`] builder.
async fn draw_world(rng: &mut Rng) -> (World, Drawn) {
    let mut arrange = World::new();
    let mut partners = Vec::new();
    let mut live_partners = Vec::new();
    for i in 0..5 {
        let slug = format!("partner-{i}");
        let status = *rng.pick(&["active", "active", "suspended", "terminated"]);
        arrange = arrange.partner_in(&slug, status);
        // A terminated partner's tenants were detached when it was terminated.
        if status != "terminated" {
            live_partners.push(slug.clone());
        }
        partners.push(slug);
    }
    let mut tenants = Vec::new();
    for i in 0..10 {
        let slug = format!("tenant-{i}");
        let status = *rng.pick(&["pending", "active", "active", "suspended", "terminated"]);
        let partner =
            (rng.chance(65) && !live_partners.is_empty()).then(|| rng.pick(&live_partners).clone());
        let tenant = match &partner {
            Some(p) => Tenant::of(&slug, p),
            None => Tenant::new(&slug),
        };
        arrange = arrange.tenant(tenant.status(status));
        tenants.push((slug, partner));
    }
    let mut subjects = Vec::new();
    for i in 0..14 {
        let subject = format!("user-{i}");
        arrange = if i < 2 || rng.chance(5) {
            arrange.operator(&subject)
        } else {
            arrange.user(&subject)
        };
        let mut joined = HashSet::new();
        for _ in 0..rng.below(4) {
            let tenant = rng.pick(&tenants).0.clone();
            if !joined.insert(tenant.clone()) {
                continue;
            }
            let role = *rng.pick(&[Role::Owner, Role::Admin, Role::Member, Role::Member]);
            arrange = if rng.chance(25) {
                arrange.suspended_member(&subject, &tenant, role)
            } else {
                arrange.member(&subject, &tenant, role)
            };
        }
        if rng.chance(40) {
            let partner = rng.pick(&partners).clone();
            let level = *rng.pick(&[Level::Admin, Level::Member]);
            arrange = arrange.staff(&subject, &partner, level);
        }
        subjects.push(subject);
    }
    for n in 0..40 {
        let tenant = rng.chance(60).then(|| rng.pick(&tenants).0.clone());
        let partner = rng.chance(40).then(|| rng.pick(&partners).clone());
        arrange = arrange.event(AuditEvent {
            label: format!("drawn-{n}"),
            tenant,
            partner,
            actor_email: None,
            action: "test.event".into(),
            target_type: "test".into(),
            target_id: None,
            outcome: "success".into(),
            at: chrono::Utc::now(),
        });
    }
    let w = arrange.spawn().await;

    let tenant_ids: Vec<(TenantId, Option<PartnerId>)> = tenants
        .iter()
        .map(|(t, p)| (TenantId(w.id(t)), p.as_ref().map(|p| PartnerId(w.id(p)))))
        .collect();
    let partner_ids = partners.iter().map(|p| PartnerId(w.id(p))).collect();
    // The ids the builder does not name, read back.
    let mut conn = w.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct MemberRowIds {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        tenant_id: Uuid,
    }
    let members = diesel::sql_query("SELECT id, tenant_id FROM memberships")
        .load::<MemberRowIds>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (MemberId(m.id), TenantId(m.tenant_id)))
        .collect();
    // Mail domains: none, one or two per tenant (the builder has no domains; rows are enough).
    let mut domain_rows = Vec::new();
    for (i, (tenant, _)) in tenant_ids.iter().enumerate() {
        for d in 0..rng.below(3) {
            #[derive(diesel::QueryableByName)]
            struct Id {
                #[diesel(sql_type = SqlUuid)]
                id: Uuid,
            }
            let row = diesel::sql_query(
                "INSERT INTO domains (tenant_id, name) VALUES ($1, $2) RETURNING id",
            )
            .bind::<SqlUuid, _>(tenant.0)
            .bind::<diesel::sql_types::Text, _>(format!("d{d}.tenant-{i}.example"))
            .get_result::<Id>(&mut conn)
            .await
            .unwrap();
            domain_rows.push((DomainId(row.id), *tenant));
        }
    }
    #[derive(diesel::QueryableByName)]
    struct EventIds {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        tenant_id: Option<Uuid>,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        partner_id: Option<Uuid>,
    }
    let events = diesel::sql_query(
        "SELECT id, tenant_id, partner_id FROM audit_events WHERE request_id LIKE 'drawn-%'",
    )
    .load::<EventIds>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|e| (e.id, e.tenant_id.map(TenantId), e.partner_id.map(PartnerId)))
    .collect();
    let drawn = Drawn {
        tenants: tenant_ids,
        partners: partner_ids,
        members,
        domains: domain_rows,
        events,
        subjects,
    };
    (w, drawn)
}

async fn viewer(conn: &mut AsyncPgConnection, subject: &str, audience: Audience) -> Viewer {
    let claims: platform_api::auth::Claims = serde_json::from_value(serde_json::json!({
        "sub": subject, "iss": "test", "aud": "test", "exp": u64::MAX,
    }))
    .unwrap();
    users::load_viewer(
        conn,
        &VerifiedToken {
            claims,
            audience,
            impersonation: None,
        },
    )
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
    let mut rng = Rng(seed);
    let (app, world) = draw_world(&mut rng).await;
    let mut conn = app.db.connect().await;
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

            let domain_ids: Vec<DomainId> = world.domains.iter().map(|d| d.0).collect();
            let rows = domains::visible(&mut conn, &v.scope(), &domain_ids)
                .await
                .unwrap();
            let sql: HashSet<DomainId> = rows.iter().map(|r| r.id).collect();
            for (id, tenant) in &world.domains {
                let rust = v
                    .tenant_access(TenantRef {
                        id: *tenant,
                        partner_id: partner_of[tenant],
                    })
                    .sees();
                judge("domain", rust, sql.contains(id), format!("{id} for {who}"));
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
        let token = app.who(subject).via_portal().sign(&app);
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
    for kind in ["tenant", "partner", "member", "domain", "audit event"] {
        let t = &total[kind];
        // Both answers occur, so the comparison could have failed either way.
        assert!(
            t.visible > 0 && t.visible < t.pairs,
            "{kind}: {t:?} — the worlds never exercised both answers"
        );
    }
}
