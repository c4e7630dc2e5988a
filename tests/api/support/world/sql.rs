//! The SQL writes of [`World`](super::World): arrangement, not the system under test.

use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::{AuditEvent, Tenant, email};

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

pub(in crate::support) async fn insert_partner(
    conn: &mut AsyncPgConnection,
    slug: &str,
    status: Option<&str>,
) -> Uuid {
    diesel::sql_query(
        "INSERT INTO partners (slug, name, status) VALUES ($1, $1, coalesce($2, 'active'))
         RETURNING id",
    )
    .bind::<Text, _>(slug)
    .bind::<Nullable<Text>, _>(status)
    .get_result::<Id>(conn)
    .await
    .expect("arrange a partner")
    .id
}

pub(super) async fn insert_tenant(
    conn: &mut AsyncPgConnection,
    t: &Tenant,
    partner: Option<Uuid>,
) -> Uuid {
    // A tenant's plan is a catalogue entry: a plan the world names exists from then on.
    diesel::sql_query(
        "INSERT INTO plans (key, name) VALUES (coalesce($1, 'standard'), coalesce($1, 'standard'))
         ON CONFLICT (key) DO NOTHING",
    )
    .bind::<Nullable<Text>, _>(t.plan.as_deref())
    .execute(conn)
    .await
    .expect("arrange a plan");
    diesel::sql_query(
        "INSERT INTO tenants (slug, name, partner_id, plan, status, stripe_customer_id)
         VALUES ($1, $1, $2, coalesce($3, 'standard'), coalesce($4, 'pending'), $5) RETURNING id",
    )
    .bind::<Text, _>(&t.slug)
    .bind::<Nullable<SqlUuid>, _>(partner)
    .bind::<Nullable<Text>, _>(t.plan.as_deref())
    .bind::<Nullable<Text>, _>(t.status.as_deref())
    .bind::<Nullable<Text>, _>(t.stripe_customer.as_deref())
    .get_result::<Id>(conn)
    .await
    .expect("arrange a tenant")
    .id
}

/// A user by identity-provider subject, as a first sign-in would create it.
pub(in crate::support) async fn upsert_user(
    conn: &mut AsyncPgConnection,
    subject: &str,
    platform_admin: bool,
) -> Uuid {
    diesel::sql_query(
        "INSERT INTO users (authentik_subject, email, platform_admin) VALUES ($1, $2, $3)
         ON CONFLICT (authentik_subject) DO UPDATE SET platform_admin = EXCLUDED.platform_admin
         RETURNING id",
    )
    .bind::<Text, _>(subject)
    .bind::<Text, _>(email(subject))
    .bind::<Bool, _>(platform_admin)
    .get_result::<Id>(conn)
    .await
    .expect("arrange a user")
    .id
}

pub(in crate::support) async fn insert_membership(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    tenant: Uuid,
    role: &str,
    status: &str,
) {
    diesel::sql_query(
        "INSERT INTO memberships (user_id, tenant_id, role, status) VALUES ($1, $2, $3, $4)",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<SqlUuid, _>(tenant)
    .bind::<Text, _>(role)
    .bind::<Text, _>(status)
    .execute(conn)
    .await
    .expect("arrange a membership");
}

pub(in crate::support) async fn insert_staff(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    partner: Uuid,
    level: &str,
) {
    diesel::sql_query(
        "INSERT INTO partner_staff (user_id, partner_id, access_level) VALUES ($1, $2, $3)",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<SqlUuid, _>(partner)
    .bind::<Text, _>(level)
    .execute(conn)
    .await
    .expect("arrange partner staff");
}

pub(super) async fn insert_bulk(
    conn: &mut AsyncPgConnection,
    partners: i32,
    tenants: i32,
    members: i32,
) {
    for sql in [
        "INSERT INTO partners (slug, name) SELECT format('p-%s', lpad(p::text, 3, '0')), format('Partner %s', p)
           FROM generate_series(0, $1 - 1) p",
        "INSERT INTO tenants (slug, name, partner_id, status)
         SELECT format('%s-t-%s', pa.slug, lpad(t::text, greatest(2, length(($2 - 1)::text)), '0')), format('Tenant %s/%s', pa.slug, t), pa.id, 'active'
           FROM partners pa CROSS JOIN generate_series(0, $2 - 1) t WHERE pa.slug LIKE 'p-%'",
        "INSERT INTO users (authentik_subject, email, name)
         SELECT format('%s-u-%s', t.slug, m), format('%s-u-%s@example.com', t.slug, m), format('User %s', m)
           FROM tenants t CROSS JOIN generate_series(0, $3 - 1) m WHERE t.slug LIKE 'p-%'",
        "INSERT INTO memberships (user_id, tenant_id, role)
         SELECT u.id, t.id, 'member' FROM tenants t JOIN users u ON u.authentik_subject LIKE t.slug || '-u-%'
          WHERE t.slug LIKE 'p-%'",
        "INSERT INTO subscriptions (tenant_id, plan, status, seats, price_minor, currency, billing_cycle)
         SELECT t.id, 'standard', 'active', 5, 1000, 'EUR', 'monthly' FROM tenants t WHERE t.slug LIKE 'p-%'",
    ] {
        diesel::sql_query(sql)
            .bind::<Integer, _>(partners)
            .bind::<Integer, _>(tenants)
            .bind::<Integer, _>(members)
            .execute(conn)
            .await
            .expect("arrange in bulk");
    }
}

pub(super) async fn insert_plan(conn: &mut AsyncPgConnection, key: &str) {
    diesel::sql_query("INSERT INTO plans (key, name) VALUES ($1, $1) ON CONFLICT (key) DO NOTHING")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .expect("arrange a plan");
}

pub(super) async fn insert_flag(
    conn: &mut AsyncPgConnection,
    key: &str,
    default: bool,
    rules: &Value,
) {
    diesel::sql_query("INSERT INTO feature_flags (key, default_value, rules) VALUES ($1, $2, $3)")
        .bind::<Text, _>(key)
        .bind::<Bool, _>(default)
        .bind::<diesel::sql_types::Jsonb, _>(rules)
        .execute(conn)
        .await
        .expect("arrange a feature flag");
}

#[derive(diesel::QueryableByName)]
struct SlugId {
    #[diesel(sql_type = Text)]
    slug: String,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Every partner and tenant, by slug.
pub(super) async fn slugs_and_ids(conn: &mut AsyncPgConnection) -> Vec<(String, Uuid)> {
    diesel::sql_query("SELECT slug, id FROM partners UNION ALL SELECT slug, id FROM tenants")
        .load::<SlugId>(conn)
        .await
        .expect("read back slugs")
        .into_iter()
        .map(|r| (r.slug, r.id))
        .collect()
}

pub(super) async fn insert_event(
    conn: &mut AsyncPgConnection,
    event: &AuditEvent,
    tenant: Option<Uuid>,
    partner: Option<Uuid>,
) {
    diesel::sql_query(
        "INSERT INTO audit_events (request_id, tenant_id, partner_id, actor_email, action,
                                   target_type, target_id, outcome, details, ip, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{\"note\": \"seeded\"}', '192.0.2.1', $9)",
    )
    .bind::<Text, _>(&event.label)
    .bind::<Nullable<SqlUuid>, _>(tenant)
    .bind::<Nullable<SqlUuid>, _>(partner)
    .bind::<Nullable<Text>, _>(event.actor_email.as_deref())
    .bind::<Text, _>(&event.action)
    .bind::<Text, _>(&event.target_type)
    .bind::<Nullable<Text>, _>(event.target_id.as_deref())
    .bind::<Text, _>(&event.outcome)
    .bind::<Timestamptz, _>(event.at)
    .execute(conn)
    .await
    .expect("arrange an audit event");
}

/// Sets `platform_admin` of the user with `subject`.
pub(super) async fn set_platform_admin(conn: &mut AsyncPgConnection, subject: &str, value: bool) {
    diesel::sql_query("UPDATE users SET platform_admin = $2 WHERE authentik_subject = $1")
        .bind::<Text, _>(subject)
        .bind::<Bool, _>(value)
        .execute(conn)
        .await
        .expect("set platform_admin");
}
