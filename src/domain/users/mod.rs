//! Users: just-in-time creation from a verified token, the Viewer query, and the `me`
//! bootstrap sync of the token's `groups` claim.

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::claims::VerifiedToken;
use crate::auth::viewer::{Membership, PartnerRole, Viewer};
use crate::db::cached;
use crate::db::schema::users;
use crate::domain::audit::{self, Actor, AuditEntry, Outcome};
use crate::domain::ids::{ByIds, TenantId, UserId};
use crate::domain::members::MemberRole;
use crate::error::{AppError, AppResult};

/// Upserts the user of `token` (email and name kept in sync) and loads what the Viewer
/// needs, in one statement. A user row without a subject (a member created by
/// `createMember` who never signed in) whose email matches the token's is claimed by the
/// first sign-in, so that person is not duplicated. The insert is only attempted when the user is missing or out of
/// date: `ON CONFLICT DO UPDATE` locks the existing row even when its `WHERE` refuses the
/// update, which made every request a write (a row lock, a transaction id, a WAL flush at
/// commit) and serialised concurrent requests of one user.
const VIEWER_SQL: &str = "
WITH claimed AS (
    UPDATE users SET authentik_subject = $1, name = COALESCE($3, name), updated_at = now()
     WHERE id = (SELECT id FROM users
                  WHERE authentik_subject IS NULL AND $2::text IS NOT NULL
                    AND lower(email) = lower($2)
                    AND NOT EXISTS (SELECT 1 FROM users WHERE authentik_subject = $1)
                  ORDER BY created_at LIMIT 1)
       AND authentik_subject IS NULL
    RETURNING id, email, name, platform_admin
), upserted AS (
    INSERT INTO users (authentik_subject, email, name)
    SELECT $1, COALESCE($2, ''), COALESCE($3, '')
     WHERE NOT EXISTS (SELECT 1 FROM users
                        WHERE authentik_subject = $1
                          AND email = COALESCE($2, email)
                          AND name = COALESCE($3, name))
       AND NOT EXISTS (SELECT 1 FROM claimed)
    ON CONFLICT (authentik_subject) DO UPDATE
       SET email = COALESCE($2, users.email), name = COALESCE($3, users.name)
     WHERE users.email IS DISTINCT FROM COALESCE($2, users.email)
        OR users.name IS DISTINCT FROM COALESCE($3, users.name)
    RETURNING id, email, name, platform_admin
), current AS (
    SELECT id, email, name, platform_admin FROM claimed
    UNION ALL
    SELECT id, email, name, platform_admin FROM upserted
    UNION ALL
    SELECT id, email, name, platform_admin FROM users
     WHERE authentik_subject = $1 AND NOT EXISTS (SELECT 1 FROM upserted)
       AND NOT EXISTS (SELECT 1 FROM claimed)
)
SELECT c.id, c.email, c.name, c.platform_admin,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'tenant_id', m.tenant_id, 'tenant_slug', t.slug, 'tenant_partner_id', t.partner_id,
                    'role', m.role, 'status', m.status,
                    'network', jsonb_build_object('ip_allowlist', COALESCE(sp.ip_allowlist, '{}'),
                                                  'allowed_countries', COALESCE(sp.allowed_countries, '{}')))
                    ORDER BY t.slug)
                   FROM memberships m JOIN tenants t ON t.id = m.tenant_id
                   LEFT JOIN security_policies sp ON sp.tenant_id = m.tenant_id
                  WHERE m.user_id = c.id), '[]'::jsonb) AS memberships,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'partner_id', ps.partner_id, 'partner_slug', p.slug, 'access_level', ps.access_level)
                    ORDER BY p.slug)
                   FROM partner_staff ps JOIN partners p ON p.id = ps.partner_id
                  WHERE ps.user_id = c.id), '[]'::jsonb) AS partner_roles
  FROM current c";

#[derive(QueryableByName)]
struct ViewerRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: UserId,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    platform_admin: bool,
    #[diesel(sql_type = Jsonb)]
    memberships: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    partner_roles: serde_json::Value,
}

/// The Viewer of a verified token, creating the user on first sight.
pub async fn load_viewer(conn: &mut AsyncPgConnection, token: &VerifiedToken) -> AppResult<Viewer> {
    let claims = &token.claims;
    let impersonation = match token.impersonation {
        None => None,
        Some(session) => {
            let operator = claims.act.as_ref().ok_or(AppError::Unauthenticated)?;
            let open = crate::domain::impersonation::open_session(
                conn,
                session,
                &claims.sub,
                &operator.sub,
            )
            .await?;
            if open.is_none() {
                tracing::info!(
                    %session,
                    reason = "impersonation session ended, expired, or its operator is no longer platform_admin",
                    "token refused"
                );
                return Err(AppError::Unauthenticated);
            }
            open
        }
    };
    let name = claims
        .name
        .clone()
        .or_else(|| claims.preferred_username.clone());
    // A concurrent first sign-in of the same subject can make the statement see no row
    // (the other insert is not in its snapshot): one retry sees it.
    for _ in 0..2 {
        let rows: Vec<ViewerRow> = cached(
            diesel::sql_query(VIEWER_SQL)
                .bind::<Text, _>(&claims.sub)
                .bind::<Nullable<Text>, _>(claims.email.as_deref())
                .bind::<Nullable<Text>, _>(name.as_deref()),
        )
        .load(conn)
        .await?;
        if let Some(row) = rows.into_iter().next() {
            let memberships: Vec<Membership> =
                serde_json::from_value(row.memberships).map_err(AppError::internal)?;
            let partner_roles: Vec<PartnerRole> =
                serde_json::from_value(row.partner_roles).map_err(AppError::internal)?;
            return Ok(Viewer {
                user_id: row.id,
                subject: claims.sub.clone(),
                email: row.email,
                name: row.name,
                audience: token.audience,
                platform_admin: row.platform_admin,
                memberships,
                partner_roles,
                impersonation,
                network: Default::default(),
            });
        }
    }
    Err(AppError::internal(anyhow::anyhow!(
        "the viewer row for {:?} did not appear",
        claims.sub
    )))
}

#[derive(QueryableByName)]
struct TenantIdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: TenantId,
}

/// Applies the token's `groups` claim (the bootstrap path, run by `me`): membership of
/// `admin_group` sets `platform_admin` (its absence clears it); a group named after an
/// existing tenant slug adds a `member` membership (existing ones are left as they are).
/// Each change is audited in the same transaction. Returns whether anything changed.
/// A token without a `groups` claim changes nothing.
pub async fn sync_groups(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    groups: Option<&[String]>,
    admin_group: &str,
    actor: &Actor,
) -> AppResult<bool> {
    let Some(groups) = groups else {
        return Ok(false);
    };
    let groups = groups.to_vec();
    let want_admin = groups.iter().any(|g| g == admin_group);
    let user_id = viewer.user_id;
    conn.transaction::<bool, AppError, _>(async move |conn| {
        let mut changed = false;
        let flipped: Vec<UserId> = diesel::update(users::table)
            .filter(
                users::id
                    .eq(user_id)
                    .and(users::platform_admin.ne(want_admin)),
            )
            .set(users::platform_admin.eq(want_admin))
            .returning(users::id)
            .get_results(conn)
            .await?;
        if !flipped.is_empty() {
            changed = true;
            let action = if want_admin {
                "user.platform_admin.grant"
            } else {
                "user.platform_admin.revoke"
            };
            audit::record(conn, actor, &user_entry(action, user_id)).await?;
        }
        let added: Vec<TenantIdRow> = diesel::sql_query(
            "INSERT INTO memberships (user_id, tenant_id, role)
                 SELECT $1, t.id, $3 FROM tenants t WHERE t.slug = ANY($2)
                 ON CONFLICT (user_id, tenant_id) DO NOTHING
                 RETURNING tenant_id",
        )
        .bind::<diesel::sql_types::Uuid, _>(user_id)
        .bind::<Array<Text>, _>(&groups)
        .bind::<Text, _>(MemberRole::Member)
        .load(conn)
        .await?;
        for row in added {
            changed = true;
            let entry = AuditEntry {
                action: "membership.create",
                target_type: "user",
                target_id: Some(user_id.to_string()),
                tenant_id: Some(row.tenant_id),
                partner_id: None,
                outcome: Outcome::Success,
                details: serde_json::json!({ "source": "groups claim", "role": MemberRole::Member }),
            };
            audit::record(conn, actor, &entry).await?;
        }
        Ok(changed)
    })
    .await
}

fn user_entry(action: &'static str, user_id: UserId) -> AuditEntry {
    AuditEntry {
        action,
        target_type: "user",
        target_id: Some(user_id.to_string()),
        tenant_id: None,
        partner_id: None,
        outcome: Outcome::Success,
        details: serde_json::json!({ "source": "groups claim" }),
    }
}

/// A `users` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// Primary key.
    pub id: UserId,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Operator flag.
    pub platform_admin: bool,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl ByIds for UserRow {
    type Id = UserId;

    fn id(&self) -> UserId {
        self.id
    }

    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[UserId]) -> QueryResult<Vec<Self>> {
        users::table
            .filter(users::id.eq_any(ids))
            .select(Self::as_select())
            .load(conn)
            .await
    }
}
