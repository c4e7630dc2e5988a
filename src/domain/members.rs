//! Tenant members (memberships joined with their users).

use diesel::QueryResult;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::cached;
use crate::db::models::MemberRow;

/// The sort key of a member within its tenant: lower-cased email, then user id.
pub type MemberKey = (String, Uuid);

/// The first `limit + 1` members (by email, after `after`) of each tenant, in one statement.
pub async fn pages_by_tenant(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[Uuid],
    after: Option<&MemberKey>,
    limit: usize,
) -> QueryResult<Vec<MemberRow>> {
    cached(
        diesel::sql_query(
        "SELECT id, tenant_id, role, status, created_at, user_id, email, name
           FROM (SELECT m.id, m.tenant_id, m.role, m.status, m.created_at,
                        u.id AS user_id, u.email, u.name,
                        row_number() OVER (PARTITION BY m.tenant_id ORDER BY lower(u.email), u.id) AS rn
                   FROM memberships m JOIN users u ON u.id = m.user_id
                  WHERE m.tenant_id = ANY($1)
                    AND ($2::text IS NULL OR (lower(u.email), u.id) > ($2, $3))) ranked
          WHERE rn <= $4
          ORDER BY tenant_id, lower(email), user_id",
    )
    .bind::<Array<SqlUuid>, _>(tenant_ids)
    .bind::<Nullable<Text>, _>(after.map(|k| k.0.as_str()))
    .bind::<Nullable<SqlUuid>, _>(after.map(|k| k.1))
    .bind::<BigInt, _>(i64::try_from(limit + 1).unwrap_or(i64::MAX)),
    )
    .load(conn)
    .await
}

/// Members by membership id (for `node`), with their tenant for the visibility check.
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<MemberRow>> {
    diesel::sql_query(
        "SELECT m.id, m.tenant_id, m.role, m.status, m.created_at, u.id AS user_id, u.email, u.name
           FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await
}

/// Members per tenant, for each of `tenant_ids`.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, i64)>> {
    use crate::db::schema::memberships;
    use diesel::{ExpressionMethods, QueryDsl};
    memberships::table
        .filter(memberships::tenant_id.eq_any(tenant_ids))
        .group_by(memberships::tenant_id)
        .select((memberships::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}
