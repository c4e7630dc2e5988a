//! Impersonation sessions: an operator acting as a user through a short-lived token this
//! server signs (RFC 8693 token exchange, [`start`]), good only while its session is open
//! ([`open_session`]), ended by [`end`], by its expiry, or by the operator losing
//! `platform_admin`.

pub mod end;
pub mod start;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::viewer::Impersonation;
use crate::domain::ids::{TenantId, UserId};
use crate::error::AppResult;

/// A session with the people it concerns.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `impersonation_sessions.id`.
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    /// The operator.
    #[diesel(sql_type = SqlUuid)]
    pub operator_user_id: UserId,
    /// The operator's email.
    #[diesel(sql_type = Text)]
    pub operator_email: String,
    /// The operator's name.
    #[diesel(sql_type = Text)]
    pub operator_name: String,
    /// The user acted as.
    #[diesel(sql_type = SqlUuid)]
    pub user_id: UserId,
    /// Their email.
    #[diesel(sql_type = Text)]
    pub user_email: String,
    /// The workspace named, if any.
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub tenant_id: Option<TenantId>,
    /// Why.
    #[diesel(sql_type = Text)]
    pub reason: String,
    /// Started.
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    /// Ends at the latest.
    #[diesel(sql_type = Timestamptz)]
    pub expires_at: DateTime<Utc>,
    /// Ended early (by `endImpersonation`), if it was.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub ended_at: Option<DateTime<Utc>>,
}

/// The columns of [`SessionRow`], over `impersonation_sessions s` joined to the operator
/// `o` and the user `u`.
const SESSION_SELECT: &str = "
SELECT s.id, s.operator_user_id, o.email AS operator_email, o.name AS operator_name,
       s.user_id, u.email AS user_email, s.tenant_id, s.reason, s.started_at, s.expires_at,
       s.ended_at
  FROM impersonation_sessions s
  JOIN users o ON o.id = s.operator_user_id
  JOIN users u ON u.id = s.user_id";

impl SessionRow {
    /// Whether tokens of this session still work (not ended, not expired; the operator's
    /// admin flag is checked by [`open_session`]).
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none() && self.expires_at > Utc::now()
    }
}

/// The session of an impersonation token, if it is still good: open, unexpired, of this
/// user and this operator, and the operator still `platform_admin`. One statement.
pub async fn open_session(
    conn: &mut AsyncPgConnection,
    session: Uuid,
    user_subject: &str,
    operator_subject: &str,
) -> AppResult<Option<Impersonation>> {
    let rows: Vec<SessionRow> = diesel::sql_query(format!(
        "{SESSION_SELECT}
          WHERE s.id = $1 AND u.authentik_subject = $2 AND o.authentik_subject = $3
            AND s.ended_at IS NULL AND s.expires_at > now() AND o.platform_admin"
    ))
    .bind::<SqlUuid, _>(session)
    .bind::<Text, _>(user_subject)
    .bind::<Text, _>(operator_subject)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| Impersonation {
        session_id: r.id,
        operator_id: r.operator_user_id,
        operator_email: r.operator_email,
        operator_name: r.operator_name,
        reason: r.reason,
        started_at: r.started_at,
        expires_at: r.expires_at,
    }))
}

/// Whether the session is still good (the WebSocket's re-check after an event).
pub async fn still_open(conn: &mut AsyncPgConnection, session: Uuid) -> AppResult<bool> {
    #[derive(QueryableByName)]
    struct Open {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        open: bool,
    }
    let row: Open = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM impersonation_sessions s
                          JOIN users o ON o.id = s.operator_user_id
                         WHERE s.id = $1 AND s.ended_at IS NULL AND s.expires_at > now()
                           AND o.platform_admin) AS open",
    )
    .bind::<SqlUuid, _>(session)
    .get_result(conn)
    .await?;
    Ok(row.open)
}

/// One session.
pub async fn by_id(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Option<SessionRow>> {
    let rows: Vec<SessionRow> = diesel::sql_query(format!("{SESSION_SELECT} WHERE s.id = $1"))
        .bind::<SqlUuid, _>(id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// A session of one of `tenants`, with the tenant it was listed for.
#[derive(QueryableByName, Debug, Clone)]
pub struct TenantSessionRow {
    /// The tenant it is listed under.
    #[diesel(sql_type = SqlUuid)]
    pub listed_for: TenantId,
    /// The session.
    #[diesel(embed)]
    pub session: SessionRow,
}

/// The newest `limit` sessions concerning each of `tenants`: named for the tenant, or of a
/// user who is a member of it. One statement for any number of tenants.
pub async fn newest_by_tenants(
    conn: &mut AsyncPgConnection,
    tenants: &[TenantId],
    limit: usize,
) -> AppResult<Vec<TenantSessionRow>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.uuid()).collect();
    Ok(diesel::sql_query(format!(
        "SELECT t.id AS listed_for, x.*
           FROM unnest($1::uuid[]) AS t(id)
           CROSS JOIN LATERAL (
               {SESSION_SELECT}
                WHERE s.tenant_id = t.id
                   OR EXISTS (SELECT 1 FROM memberships m
                               WHERE m.user_id = s.user_id AND m.tenant_id = t.id)
                ORDER BY s.started_at DESC, s.id
                LIMIT $2) x
          ORDER BY t.id, x.started_at DESC, x.id"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<BigInt, _>(limit as i64)
    .load(conn)
    .await?)
}

/// Whether a session concerns one of `tenants` (named for it, or its user is a member).
pub async fn concerns_any(
    conn: &mut AsyncPgConnection,
    session: &SessionRow,
    tenants: &[TenantId],
) -> AppResult<bool> {
    if tenants.is_empty() {
        return Ok(false);
    }
    if session.tenant_id.is_some_and(|t| tenants.contains(&t)) {
        return Ok(true);
    }
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        hit: bool,
    }
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.uuid()).collect();
    let row: Hit = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND tenant_id = ANY($2)) AS hit",
    )
    .bind::<SqlUuid, _>(session.user_id)
    .bind::<Array<SqlUuid>, _>(ids)
    .get_result(conn)
    .await?;
    Ok(row.hit)
}
