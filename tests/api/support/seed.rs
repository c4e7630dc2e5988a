//! Arranging data directly in a test's database (what the API will create through
//! mutations in later slices).

use diesel::sql_types::{Bool, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// A partner.
pub async fn partner(conn: &mut AsyncPgConnection, slug: &str) -> Uuid {
    diesel::sql_query("INSERT INTO partners (slug, name) VALUES ($1, $1) RETURNING id")
        .bind::<Text, _>(slug)
        .get_result::<Id>(conn)
        .await
        .expect("seed partner")
        .id
}

/// A tenant, optionally under a partner.
pub async fn tenant(conn: &mut AsyncPgConnection, slug: &str, partner: Option<Uuid>) -> Uuid {
    diesel::sql_query(
        "INSERT INTO tenants (slug, name, partner_id) VALUES ($1, $1, $2) RETURNING id",
    )
    .bind::<Text, _>(slug)
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(partner)
    .get_result::<Id>(conn)
    .await
    .expect("seed tenant")
    .id
}

/// A user by identity-provider subject (as a first sign-in would create it).
pub async fn user(conn: &mut AsyncPgConnection, subject: &str, platform_admin: bool) -> Uuid {
    diesel::sql_query(
        "INSERT INTO users (authentik_subject, email, platform_admin) VALUES ($1, $1 || '@example.com', $2)
         ON CONFLICT (authentik_subject) DO UPDATE SET platform_admin = EXCLUDED.platform_admin
         RETURNING id",
    )
    .bind::<Text, _>(subject)
    .bind::<Bool, _>(platform_admin)
    .get_result::<Id>(conn)
    .await
    .expect("seed user")
    .id
}

/// A membership.
pub async fn membership(
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
    .expect("seed membership");
}

/// A partner staff row.
pub async fn staff(conn: &mut AsyncPgConnection, user: Uuid, partner: Uuid, level: &str) {
    diesel::sql_query(
        "INSERT INTO partner_staff (user_id, partner_id, access_level) VALUES ($1, $2, $3)",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<SqlUuid, _>(partner)
    .bind::<Text, _>(level)
    .execute(conn)
    .await
    .expect("seed staff");
}

/// Sets `platform_admin` of a subject.
pub async fn set_admin(conn: &mut AsyncPgConnection, subject: &str, value: bool) {
    diesel::sql_query("UPDATE users SET platform_admin = $2 WHERE authentik_subject = $1")
        .bind::<Text, _>(subject)
        .bind::<Bool, _>(value)
        .execute(conn)
        .await
        .expect("set admin");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `SELECT count(*) FROM <table> [WHERE …]`.
pub async fn count(conn: &mut AsyncPgConnection, from_where: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {from_where}"))
        .get_result::<Count>(conn)
        .await
        .expect("count")
        .n
}

/// `partners` partners (`p-000`…) with `tenants_each` tenants (`p-000-t-00`…), each with
/// `members_each` members, and a monthly EUR subscription per tenant; returns nothing,
/// look rows up by slug.
pub async fn bulk(
    conn: &mut AsyncPgConnection,
    partners: i32,
    tenants_each: i32,
    members_each: i32,
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
            .bind::<diesel::sql_types::Integer, _>(partners)
            .bind::<diesel::sql_types::Integer, _>(tenants_each)
            .bind::<diesel::sql_types::Integer, _>(members_each)
            .execute(conn)
            .await
            .expect("bulk seed");
    }
}

#[derive(diesel::QueryableByName)]
struct Text1 {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

/// A digest of every row a mutation could change (users excluded: reading the Viewer keeps
/// them in sync), to show that nothing but the audit log moved.
pub async fn fingerprint(conn: &mut AsyncPgConnection) -> String {
    diesel::sql_query(
        "SELECT coalesce(md5(string_agg(x, '|' ORDER BY x)), '') AS t FROM (
            SELECT t::text AS x FROM tenants t UNION ALL SELECT p::text FROM partners p
            UNION ALL SELECT m::text FROM memberships m UNION ALL SELECT s::text FROM subscriptions s
            UNION ALL SELECT ps::text FROM partner_staff ps UNION ALL SELECT f::text FROM feature_flags f
            UNION ALL SELECT j::text FROM jobs j UNION ALL SELECT st::text FROM provisioning_steps st
            UNION ALL SELECT e::text FROM provisioning_events e) rows",
    )
    .get_result::<Text1>(conn)
    .await
    .expect("fingerprint")
    .t
}
