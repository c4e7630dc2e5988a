//! Starting a session: `startImpersonation` and `POST /oauth/token` both come here.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::SessionRow;
use crate::auth::impersonation::{ActClaim, ImpersonationClaims, Signer};
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::{TenantId, UserId};
use crate::domain::members::{MemberRole, MembershipStatus};
use crate::domain::tenants;
use crate::error::{AppError, AppResult};
use crate::events::{self, Event};

/// Whom to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user (`users.id`).
    User(UserId),
    /// A workspace (tenant slug): its first active owner.
    Workspace(String),
}

/// The names the caller's protocol gives the inputs (GraphQL `input.*` or OAuth parameters),
/// so a refusal names the field the caller sent.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The subject (user id or workspace).
    pub subject: &'static str,
    /// The named tenant (user form).
    pub tenant: &'static str,
    /// The reason.
    pub reason: &'static str,
    /// The lifetime.
    pub ttl: &'static str,
}

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Whom.
    pub subject: Subject,
    /// For the user form: the workspace the session is about (the user must be an active
    /// member of it). Without it, the user's only active workspace, if they have one.
    pub tenant: Option<String>,
    /// Why (required, 1–500 characters once trimmed; kept with the session).
    pub reason: String,
    /// Lifetime in seconds (default and maximum: `IMPERSONATION_MAX_TTL`).
    pub ttl_secs: Option<i64>,
}

/// Limits and names the start needs from configuration.
#[derive(Clone)]
pub struct Settings {
    /// `IMPERSONATION_MAX_TTL`.
    pub max_ttl: Duration,
    /// The audience of impersonation tokens (the portal).
    pub portal_audience: String,
    /// The key of the moment (fetched before the transaction opens).
    pub signer: Signer,
}

/// A started session and its token.
#[derive(Debug, Clone)]
pub struct Started {
    /// The session.
    pub session: SessionRow,
    /// The impersonation token (never logged nor stored).
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
}

/// Longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(QueryableByName)]
struct SubjectUser {
    #[diesel(sql_type = SqlUuid)]
    id: UserId,
    #[diesel(sql_type = Text)]
    authentik_subject: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Bool)]
    platform_admin: bool,
}

const USER_SQL: &str =
    "SELECT id, authentik_subject, email, platform_admin FROM users WHERE id = $1";
const FIRST_OWNER_SQL: &str = "
SELECT u.id, u.authentik_subject, u.email, u.platform_admin
  FROM memberships m JOIN users u ON u.id = m.user_id
 WHERE m.tenant_id = $1 AND m.role = $2 AND m.status = $3
 ORDER BY m.created_at, u.id
 LIMIT 1";

#[derive(QueryableByName)]
struct TenantOnly {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: TenantId,
}

/// Validates the reason: trimmed, 1–500 characters.
pub fn parse_reason(raw: &str, field: &str) -> AppResult<String> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(AppError::bad_input(field, "a reason is required"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::bad_input(
            field,
            format!("at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// Validates the lifetime: 1 second to `max`; none is `max`.
pub fn parse_ttl(requested: Option<i64>, max: Duration, field: &str) -> AppResult<i64> {
    let max = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
    match requested {
        None => Ok(max),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(AppError::bad_input(
            field,
            format!("must be between 1 and {max} seconds (IMPERSONATION_MAX_TTL)"),
        )),
    }
}

/// Starts a session (operators only: the operator audience and `platform_admin`), audited
/// as `impersonation.start` with its reason, announced with an `impersonation:` event.
pub async fn start(
    caller: &Caller,
    settings: &Settings,
    request: StartRequest,
    fields: Fields,
) -> AppResult<Started> {
    caller
        .change("impersonation.start", "impersonation_session")
        .run(need::operator(), async move |tx, ()| {
            let reason = parse_reason(&request.reason, fields.reason)?;
            let ttl = parse_ttl(request.ttl_secs, settings.max_ttl, fields.ttl)?;
            let (user, tenant, form) = match &request.subject {
                Subject::User(id) => {
                    let user = subject_user(tx.conn, *id).await?;
                    let user = user.ok_or(AppError::NotFound { what: "user" })?;
                    let tenant =
                        named_tenant(tx.conn, request.tenant.as_deref(), user.id, fields).await?;
                    (user, tenant, "user")
                }
                Subject::Workspace(slug) => {
                    let row = tenants::by_slug(tx.conn, slug)
                        .await?
                        .ok_or(AppError::NotFound { what: "tenant" })?;
                    let owner = first_owner(tx.conn, row.id).await?;
                    let owner = owner.ok_or_else(|| {
                        AppError::bad_input(fields.subject, "the workspace has no active owner")
                    })?;
                    (owner, Some(row.id), "workspace")
                }
            };
            tx.audit.tenant_id = tenant;
            if user.id == tx.viewer.user_id {
                return Err(AppError::bad_input(
                    fields.subject,
                    "you cannot impersonate yourself",
                ));
            }
            if user.platform_admin {
                return Err(AppError::bad_input(
                    fields.subject,
                    "platform operators cannot be impersonated",
                ));
            }
            #[derive(QueryableByName)]
            struct Inserted {
                #[diesel(sql_type = SqlUuid)]
                id: Uuid,
            }
            let inserted: Inserted = diesel::sql_query(
                "INSERT INTO impersonation_sessions
                     (operator_user_id, user_id, tenant_id, reason, expires_at)
                 VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                 RETURNING id",
            )
            .bind::<SqlUuid, _>(tx.viewer.user_id)
            .bind::<SqlUuid, _>(user.id)
            .bind::<Nullable<SqlUuid>, _>(tenant)
            .bind::<Text, _>(&reason)
            .bind::<BigInt, _>(ttl)
            .get_result(tx.conn)
            .await?;
            let session = super::by_id(tx.conn, inserted.id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new session vanished")))?;
            tx.audit.target_id = Some(session.id.to_string());
            tx.audit.details = json!({
                "reason": reason,
                "form": form,
                "user_id": user.id,
                "user_email": user.email,
                "expires_at": session.expires_at,
                "expires_in": ttl,
            });
            events::notify(tx.conn, &Event::ImpersonationStarted(session.id)).await?;
            let claims = ImpersonationClaims {
                sub: user.authentik_subject,
                aud: settings.portal_audience.clone(),
                act: ActClaim {
                    sub: tx.viewer.subject.clone(),
                },
                sid: session.id.to_string(),
                iat: session.started_at.timestamp(),
                nbf: session.started_at.timestamp(),
                exp: session.expires_at.timestamp(),
            };
            settings.signer.publish(tx.conn).await?;
            let token = settings.signer.sign(&claims)?;
            Ok(Started {
                session,
                token,
                expires_in: ttl,
            })
        })
        .await
}

async fn subject_user(conn: &mut AsyncPgConnection, id: UserId) -> AppResult<Option<SubjectUser>> {
    let rows: Vec<SubjectUser> = diesel::sql_query(USER_SQL)
        .bind::<SqlUuid, _>(id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// The workspace's first active owner (by when they joined).
async fn first_owner(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> AppResult<Option<SubjectUser>> {
    let rows: Vec<SubjectUser> = diesel::sql_query(FIRST_OWNER_SQL)
        .bind::<SqlUuid, _>(tenant)
        .bind::<Text, _>(MemberRole::Owner)
        .bind::<Text, _>(MembershipStatus::Active)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// The workspace a user-form session is about: the one named (the user must be an active
/// member), else the user's only active one, else none.
async fn named_tenant(
    conn: &mut AsyncPgConnection,
    slug: Option<&str>,
    user: UserId,
    fields: Fields,
) -> AppResult<Option<TenantId>> {
    let rows: Vec<TenantOnly> = diesel::sql_query(
        "SELECT m.tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id
          WHERE m.user_id = $1 AND m.status = $3 AND ($2::text IS NULL OR t.slug = $2)",
    )
    .bind::<SqlUuid, _>(user)
    .bind::<Nullable<Text>, _>(slug)
    .bind::<Text, _>(MembershipStatus::Active)
    .load(conn)
    .await?;
    match (slug, rows.as_slice()) {
        (Some(_), [one]) => Ok(Some(one.tenant_id)),
        (Some(_), _) => Err(AppError::bad_input(
            fields.tenant,
            "the user is not an active member of that tenant",
        )),
        (None, [one]) => Ok(Some(one.tenant_id)),
        (None, _) => Ok(None),
    }
}
