//! The stored MFA enrollment snapshot (`mfa_enrollments`): the last answer Authentik gave
//! about each user's second factor, so that tenant health can read MFA coverage for any
//! number of tenants in one statement instead of calling Authentik per member.
//!
//! Written by every successful `Tenant.mfaStatus` read ([`store`], one statement for all
//! its members) and by the `mfa_snapshot` job ([`crate::jobs::mfa_snapshot`]), which
//! refreshes the users whose row is missing or older than `MFA_SNAPSHOT_INTERVAL_SECS`
//! ([`stale_users`]). Read by [`coverage`]. A member whose user has no row yet (never
//! asked, or no Authentik account yet) is left out of the coverage: nothing is guessed.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Double, Int8, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::mfa::role_must_enrol;
use super::{MfaMode, Policy};
use crate::domain::health::MfaCoverage;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::members::{MemberRole, MembershipStatus};

/// Stores what Authentik said of each user in `found` (`true`: at least one authenticator),
/// as of now, in one statement. Returns the rows written.
pub async fn store(
    conn: &mut AsyncPgConnection,
    found: &[(UserId, bool)],
) -> diesel::QueryResult<usize> {
    if found.is_empty() {
        return Ok(0);
    }
    // A user in the list twice (two memberships of one tenant cannot happen, but the job's
    // batches are per user anyway) would make ON CONFLICT touch a row twice: keep one.
    let mut seen = HashMap::with_capacity(found.len());
    for (user, enrolled) in found {
        seen.insert(user.uuid(), *enrolled);
    }
    let (users, enrolled): (Vec<uuid::Uuid>, Vec<bool>) = seen.into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO mfa_enrollments (user_id, enrolled, checked_at)
         SELECT u, e, now() FROM unnest($1::uuid[], $2::bool[]) AS f(u, e)
          WHERE EXISTS (SELECT 1 FROM users WHERE users.id = f.u)
         ON CONFLICT (user_id) DO UPDATE
            SET enrolled = excluded.enrolled, checked_at = excluded.checked_at",
    )
    .bind::<Array<SqlUuid>, _>(users)
    .bind::<Array<Bool>, _>(enrolled)
    .execute(conn)
    .await
}

/// A user whose snapshot is due, with their Authentik user pk.
#[derive(QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleUser {
    /// `users.id`.
    #[diesel(sql_type = SqlUuid)]
    pub user_id: UserId,
    /// `users.authentik_user_pk`.
    #[diesel(sql_type = Int8)]
    pub authentik_user_pk: i64,
}

/// Up to `limit` users, by id after `after`, who are active members of some tenant, have an
/// Authentik account, and whose snapshot is missing or older than `older_than`.
pub async fn stale_users(
    conn: &mut AsyncPgConnection,
    older_than: Duration,
    after: Option<UserId>,
    limit: i64,
) -> diesel::QueryResult<Vec<StaleUser>> {
    diesel::sql_query(
        "SELECT u.id AS user_id, u.authentik_user_pk
           FROM users u
           LEFT JOIN mfa_enrollments e ON e.user_id = u.id
          WHERE u.authentik_user_pk IS NOT NULL
            AND ($1::uuid IS NULL OR u.id > $1)
            AND (e.user_id IS NULL OR e.checked_at < now() - make_interval(secs => $2))
            AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.status = $3)
          ORDER BY u.id
          LIMIT $4",
    )
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(after.map(UserId::uuid))
    .bind::<Double, _>(older_than.as_secs_f64())
    .bind::<Text, _>(MembershipStatus::Active)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

#[derive(QueryableByName)]
struct CoverageRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: TenantId,
    #[diesel(sql_type = BigInt)]
    required: i64,
    #[diesel(sql_type = BigInt)]
    enrolled: i64,
}

/// The coverage statement. Which (mode, role) pairs must enrol is spelled from
/// [`role_must_enrol`], the rule `Tenant.mfaStatus` flags members by, so the two cannot
/// drift; a tenant without a policy row has the default policy's mode.
static COVERAGE: LazyLock<String> = LazyLock::new(|| {
    let pairs: Vec<String> = MfaMode::ALL
        .iter()
        .flat_map(|mode| {
            MemberRole::ALL
                .iter()
                .filter(|role| role_must_enrol(*mode, **role))
                .map(move |role| format!("('{mode}', '{role}')"))
        })
        .collect();
    let must = if pairs.is_empty() {
        "false".to_owned()
    } else {
        format!(
            "(coalesce(p.mfa_mode, '{default}'), m.role) IN ({pairs})",
            default = Policy::default().mfa_mode,
            pairs = pairs.join(", ")
        )
    };
    format!(
        "SELECT m.tenant_id, count(*) AS required, count(*) FILTER (WHERE e.enrolled) AS enrolled
           FROM memberships m
           JOIN mfa_enrollments e ON e.user_id = m.user_id
           LEFT JOIN security_policies p ON p.tenant_id = m.tenant_id
          WHERE m.tenant_id = ANY($1) AND m.status = $2 AND {must}
          GROUP BY m.tenant_id"
    )
});

/// For each of `tenants`, its active members the policy requires a second factor of and
/// whose enrollment is known (a snapshot row), and how many of those are enrolled — one
/// statement for all tenants. A tenant with no such member is absent (the MFA health rule is
/// skipped for it rather than fed a made-up figure).
pub async fn coverage(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
) -> diesel::QueryResult<HashMap<TenantId, MfaCoverage>> {
    if tenants.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<CoverageRow> = diesel::sql_query(COVERAGE.as_str())
        .bind::<Array<SqlUuid>, _>(tenants.iter().map(|t| t.uuid()).collect::<Vec<_>>())
        .bind::<Text, _>(MembershipStatus::Active)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let coverage = MfaCoverage {
                required: r.required,
                enrolled: r.enrolled,
            };
            (r.tenant_id, coverage)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_names_exactly_the_pairs_that_must_enrol() {
        let sql = COVERAGE.as_str();
        for mode in MfaMode::ALL {
            for role in MemberRole::ALL {
                let pair = format!("('{mode}', '{role}')");
                assert_eq!(
                    sql.contains(&pair),
                    role_must_enrol(*mode, *role),
                    "{pair} in {sql}"
                );
            }
        }
        assert!(sql.contains("coalesce(p.mfa_mode, 'optional')"), "{sql}");
    }
}
