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
