//! Every filter (and every scope) of the page statement is served by an index: the plans of
//! the exact statement `auditEvents` sends, over a few thousand analysed rows, never scan
//! `audit_events` sequentially and use the filter's index.
//!
//! The partner filter and the partner staff scope are the exception that proves the rule:
//! which tenants a partner owns is only known when the statement runs, so the planner may
//! rightly prefer walking `audit_events_at_idx` newest first and stopping after a page of
//! matches (the right plan for a busy partner) over the partner and tenant indexes (the
//! right plan for a quiet one). Either is accepted there; a sequential scan is not.

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use platform_api::domain::audit::Outcome;
use platform_api::domain::audit::query::{
    AuditFilter, AuditScope, PageWindow, Towards, explain_page,
};

use crate::support::{Tenant, World};

/// 20,000 ordinary events over 40 tenants of 4 partners, and 3 rare ones (of `tenant`, action
/// `rare.action`, outcome failure, actor `Needle@Example.com`, target `needle-target`). The
/// distribution is what this test is about, so it is written here, set-based.
async fn events_for_the_planner(conn: &mut AsyncPgConnection, tenant: uuid::Uuid) {
    conn.batch_execute(
        "INSERT INTO partners (slug, name) SELECT 'partner-' || i, 'p' FROM generate_series(1, 4) i;
         INSERT INTO tenants (slug, name, partner_id)
              SELECT 'tenant-' || i, 't', (SELECT id FROM partners WHERE slug = 'partner-' || (i % 4 + 1))
                FROM generate_series(1, 40) i;
         INSERT INTO audit_events (tenant_id, partner_id, actor_email, action, target_type,
                                   target_id, outcome, at)
              SELECT t.id, t.partner_id, 'user' || (i % 300) || '@example.com', 'tenant.update',
                     'tenant', t.id::text, 'success', now() - i * interval '1 minute'
                FROM generate_series(1, 20000) i JOIN tenants t ON t.slug = 'tenant-' || (i % 40 + 1);",
    )
    .await
    .expect("seed ordinary events");
    conn.batch_execute(&format!(
        "INSERT INTO audit_events (tenant_id, actor_email, action, target_type, target_id, outcome, at)
              SELECT '{tenant}', 'Needle@Example.com', 'rare.action', 'user', 'needle-target',
                     'failure', now() - i * interval '1 hour'
                FROM generate_series(1, 3) i;"
    ))
    .await
    .expect("seed rare events");
    // Statistics, and the trigram index's pending list merged, as autovacuum would.
    for table in ["audit_events", "tenants", "partners"] {
        conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("vacuum analyze");
    }
}

/// Either the partner's and its tenants' indexes, or the list order's index.
const PARTNER_PLANS: &str =
    "audit_events_partner_id_at_idx+audit_events_tenant_id_at_idx|audit_events_at_idx";

#[tokio::test]
async fn every_filter_and_scope_has_an_index() {
    let w = World::new()
        .partner("rare-partner")
        .tenant(Tenant::of("rare-tenant", "rare-partner"))
        .spawn()
        .await;
    let (rare_tenant, rare_partner) = (w.id("rare-tenant"), w.id("rare-partner"));
    let mut conn = w.db.connect().await;
    events_for_the_planner(&mut conn, rare_tenant).await;
    let filter = |f: fn(&mut AuditFilter)| {
        let mut filter = AuditFilter::default();
        f(&mut filter);
        filter
    };
    let all = AuditScope::All;
    // (name, scope, filter, indexes the plan must use; `a+b|c`: both a and b, or c)
    let cases: Vec<(&str, AuditScope, AuditFilter, &[&str])> = vec![
        (
            "none",
            all.clone(),
            filter(|_| {}),
            &["audit_events_at_idx"],
        ),
        (
            "tenant",
            all.clone(),
            filter(|f| f.tenant = Some("rare-tenant".into())),
            &["audit_events_tenant_id_at_idx"],
        ),
        (
            "partner",
            all.clone(),
            filter(|f| f.partner = Some("rare-partner".into())),
            &[PARTNER_PLANS],
        ),
        (
            "action",
            all.clone(),
            filter(|f| f.action = Some("rare.action".into())),
            &["audit_events_action_at_idx"],
        ),
        (
            "outcome",
            all.clone(),
            filter(|f| f.outcome = Some(Outcome::Failure)),
            &["audit_events_outcome_at_idx"],
        ),
        (
            "actorEmail",
            all.clone(),
            filter(|f| f.actor_email = Some("needle@example.com".into())),
            &["audit_events_lower_actor_email_at_idx"],
        ),
        (
            "search",
            all.clone(),
            filter(|f| f.search = Some("NEEDLE-TAR".into())),
            &["audit_events_search_trgm_idx"],
        ),
        (
            "since",
            all.clone(),
            filter(|f| f.since = Some(chrono::Utc::now() - chrono::Duration::minutes(3))),
            &["audit_events_at_idx"],
        ),
        (
            "tenant admin scope",
            AuditScope::Limited {
                admin_tenants: vec![rare_tenant.into()],
                staff_partners: vec![],
            },
            filter(|_| {}),
            &["audit_events_tenant_id_at_idx"],
        ),
        (
            "partner staff scope",
            AuditScope::Limited {
                admin_tenants: vec![],
                staff_partners: vec![rare_partner.into()],
            },
            filter(|_| {}),
            &[PARTNER_PLANS],
        ),
    ];
    let window = PageWindow {
        towards: Towards::Older,
        cursor: None,
        rows: 21,
    };
    for (name, scope, filter, indexes) in cases {
        let plan = explain_page(&mut conn, &scope, &filter, &window)
            .await
            .expect("explain")
            .join("\n");
        assert!(
            !plan.contains("Seq Scan on audit_events"),
            "{name}: sequential scan\n{plan}"
        );
        for index in indexes {
            let uses = |i: &str| i.split('+').all(|part| plan.contains(part));
            assert!(index.split('|').any(uses), "{name}: {index} unused\n{plan}");
        }
    }
}
