//! The SQL of member operations: lock a member, queue an operation's steps, move a step,
//! append progress events, end a run.
//!
//! Every function that changes state runs inside the caller's transaction after the caller
//! locked the membership row ([`lock_member`]): that lock orders the transitions of one
//! member, so event sequence numbers follow commit order (the `memberProgress` subscription
//! relies on it, as `provisioningProgress` does on the tenant's lock).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{MemberOperation, MemberRole, MemberStep, MembershipStatus};
use crate::db::schema::{member_events, member_secrets, member_steps, memberships};
use crate::domain::ids::{MemberId, TenantId, UserId};
use crate::domain::jobs::{self as queue, NewJob};
use crate::domain::steps::{StepStatus, failed_once_settled};
use crate::domain::tenants::TenantStatus;
use crate::events::{self, Event};

/// The job kind that runs one step of a member operation.
pub const JOB_KIND: &str = "member_step";

/// What a member step job carries (never a secret: the sealed password stays in
/// `member_secrets`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepJob {
    /// The membership.
    pub member: MemberId,
    /// The step.
    pub step: MemberStep,
}

/// What a step needs of its member, user and tenant, read under the membership's lock.
#[derive(QueryableByName, Debug, Clone)]
pub struct LockedMember {
    /// `memberships.id`.
    #[diesel(sql_type = SqlUuid)]
    pub id: MemberId,
    /// The tenant.
    #[diesel(sql_type = SqlUuid)]
    pub tenant_id: TenantId,
    /// The person.
    #[diesel(sql_type = SqlUuid)]
    pub user_id: UserId,
    /// Role in the tenant.
    #[diesel(sql_type = Text)]
    pub role: MemberRole,
    /// Status of the membership.
    #[diesel(sql_type = Text)]
    pub status: MembershipStatus,
    /// The operation whose steps are current.
    #[diesel(sql_type = Nullable<Text>)]
    pub operation: Option<MemberOperation>,
    /// The mailbox, once created.
    #[diesel(sql_type = Nullable<Text>)]
    pub stalwart_account_id: Option<String>,
    /// The person's email (the mailbox address).
    #[diesel(sql_type = Text)]
    pub email: String,
    /// The person's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The person's Authentik user, once created.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub authentik_user_pk: Option<i64>,
    /// The person's oCIS user, once created.
    #[diesel(sql_type = Nullable<Text>)]
    pub ocis_user_id: Option<String>,
    /// The tenant's slug.
    #[diesel(sql_type = Text)]
    pub tenant_slug: String,
    /// The tenant's status.
    #[diesel(sql_type = Text)]
    pub tenant_status: TenantStatus,
    /// The tenant's Authentik group, once provisioned.
    #[diesel(sql_type = Nullable<Text>)]
    pub tenant_group_id: Option<String>,
    /// The tenant's oCIS space, once provisioned.
    #[diesel(sql_type = Nullable<Text>)]
    pub tenant_space_id: Option<String>,
    /// Whether the person has an active or pending membership of another tenant.
    #[diesel(sql_type = Bool)]
    pub in_other_tenants: bool,
}

/// Locks membership `id` (`FOR NO KEY UPDATE`) and reads what its steps need.
pub async fn lock_member(
    conn: &mut AsyncPgConnection,
    id: MemberId,
) -> QueryResult<Option<LockedMember>> {
    let mut rows: Vec<LockedMember> = diesel::sql_query(
        "SELECT m.id, m.tenant_id, m.user_id, m.role, m.status, m.operation,
                m.stalwart_account_id, u.email, u.name, u.authentik_user_pk, u.ocis_user_id,
                t.slug AS tenant_slug, t.status AS tenant_status,
                t.authentik_group_id AS tenant_group_id, t.ocis_space_id AS tenant_space_id,
                EXISTS (SELECT 1 FROM memberships o
                         WHERE o.user_id = m.user_id AND o.id <> m.id) AS in_other_tenants
           FROM memberships m JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id
          WHERE m.id = $1
            FOR NO KEY UPDATE OF m",
    )
    .bind::<SqlUuid, _>(id)
    .load(conn)
    .await?;
    Ok(rows.pop())
}

/// A member step's row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = member_steps)]
pub struct MemberStepRow {
    /// The membership.
    pub membership_id: MemberId,
    /// Which step.
    pub step: MemberStep,
    /// Where it stands.
    pub status: StepStatus,
    /// Attempts of the current operation.
    pub attempts: i32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A `member_events` row.
#[derive(Queryable, Selectable, QueryableByName, Debug, Clone, PartialEq)]
#[diesel(table_name = member_events)]
pub struct MemberEventRow {
    /// Global id (what NOTIFY carries).
    pub id: i64,
    /// The membership.
    pub membership_id: MemberId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Per-member sequence number, from 1.
    pub seq: i32,
    /// The operation.
    pub operation: MemberOperation,
    /// The step; `None` for the operation as a whole.
    pub step: Option<MemberStep>,
    /// Its status.
    pub status: StepStatus,
    /// For people.
    pub message: Option<String>,
    /// The last event of an operation.
    pub terminal: bool,
    /// When.
    pub at: DateTime<Utc>,
}

/// An event to append to a member's log.
pub type NewEvent = crate::domain::steps::NewEvent<MemberStep>;

/// Appends `new` to the member's log with the next sequence numbers and NOTIFYs each id at
/// commit (two statements). The caller holds the membership's lock (or just inserted it).
pub async fn append_events(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    tenant: TenantId,
    operation: MemberOperation,
    new: &[NewEvent],
) -> QueryResult<Vec<MemberEventRow>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let steps: Vec<Option<MemberStep>> = new.iter().map(|e| e.step).collect();
    let statuses: Vec<StepStatus> = new.iter().map(|e| e.status).collect();
    let messages: Vec<&str> = new.iter().map(|e| e.message.as_str()).collect();
    let terminal: Vec<bool> = new.iter().map(|e| e.terminal).collect();
    let mut rows: Vec<MemberEventRow> = diesel::sql_query(
        "INSERT INTO member_events (membership_id, tenant_id, seq, operation, step, status, message, terminal)
         SELECT $1, $2, base.n + e.ord, $3, e.step, e.status, e.message, e.terminal
           FROM unnest($4::text[], $5::text[], $6::text[], $7::bool[])
                WITH ORDINALITY AS e(step, status, message, terminal, ord),
                (SELECT coalesce(max(seq), 0) AS n
                   FROM member_events WHERE membership_id = $1) AS base
         RETURNING id, membership_id, tenant_id, seq, operation, step, status, message, terminal, at",
    )
    .bind::<SqlUuid, _>(member)
    .bind::<SqlUuid, _>(tenant)
    .bind::<Text, _>(operation)
    .bind::<Array<Nullable<Text>>, _>(steps)
    .bind::<Array<Text>, _>(statuses)
    .bind::<Array<Text>, _>(messages)
    .bind::<Array<Bool>, _>(terminal)
    .load(conn)
    .await?;
    rows.sort_by_key(|r| r.seq);
    let notes: Vec<Event> = rows.iter().map(|r| Event::Member(r.id)).collect();
    events::notify_all(conn, &notes).await?;
    Ok(rows)
}

/// Starts `operation` on a member: records it on the membership, marks `steps` pending (and
/// the other steps skipped), queues one job per step and appends one `pending` event per
/// step. The caller holds the membership's lock (or just inserted it).
pub async fn queue_operation(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    tenant: TenantId,
    operation: MemberOperation,
    steps: &[MemberStep],
    max_attempts: u32,
    why: &str,
) -> QueryResult<Vec<MemberEventRow>> {
    diesel::update(memberships::table.filter(memberships::id.eq(member)))
        .set((
            memberships::operation.eq(operation),
            memberships::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let statuses: Vec<StepStatus> = MemberStep::ALL
        .iter()
        .map(|s| {
            if steps.contains(s) {
                StepStatus::Pending
            } else {
                StepStatus::Skipped
            }
        })
        .collect();
    diesel::sql_query(
        "INSERT INTO member_steps (membership_id, step, status)
         SELECT $1, s.step, s.status FROM unnest($2::text[], $3::text[]) AS s(step, status)
         ON CONFLICT (membership_id, step) DO UPDATE
            SET status = EXCLUDED.status, attempts = 0, last_error = NULL, updated_at = now()",
    )
    .bind::<SqlUuid, _>(member)
    .bind::<Array<Text>, _>(MemberStep::ALL)
    .bind::<Array<Text>, _>(statuses)
    .execute(conn)
    .await?;
    requeue(conn, member, tenant, operation, steps, max_attempts, why).await
}

/// Queues jobs for `steps` of the current operation and appends their `pending` events.
pub async fn requeue(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    tenant: TenantId,
    operation: MemberOperation,
    steps: &[MemberStep],
    max_attempts: u32,
    why: &str,
) -> QueryResult<Vec<MemberEventRow>> {
    diesel::update(
        member_steps::table
            .filter(member_steps::membership_id.eq(member))
            .filter(member_steps::step.eq_any(steps)),
    )
    .set((
        member_steps::status.eq(StepStatus::Pending),
        member_steps::attempts.eq(0),
        member_steps::last_error.eq(None::<String>),
        member_steps::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    let jobs: Vec<NewJob> = steps
        .iter()
        .map(|step| NewJob {
            kind: JOB_KIND,
            payload: serde_json::to_value(StepJob {
                member,
                step: *step,
            })
            .expect("a step job serializes"),
            dedupe_key: Some(format!("member:{member}:{}", step.as_str())),
            max_attempts,
        })
        .collect();
    queue::enqueue(conn, &jobs).await?;
    let new: Vec<NewEvent> = steps
        .iter()
        .map(|s| NewEvent::step(*s, StepStatus::Pending, why))
        .collect();
    append_events(conn, member, tenant, operation, &new).await
}

/// Marks a step `running` for attempt `attempts` (one statement).
pub async fn start_step(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    step: MemberStep,
    attempts: i32,
) -> QueryResult<usize> {
    diesel::update(member_steps::table.find((member, step)))
        .set((
            member_steps::status.eq(StepStatus::Running),
            member_steps::attempts.eq(attempts),
            member_steps::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

/// Writes a step's state (one statement).
pub async fn set_step(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    step: MemberStep,
    status: StepStatus,
    attempts: i32,
    last_error: Option<&str>,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE member_steps SET status = $3, attempts = $4, last_error = $5, updated_at = now()
          WHERE membership_id = $1 AND step = $2",
    )
    .bind::<SqlUuid, _>(member)
    .bind::<Text, _>(step)
    .bind::<Text, _>(status)
    .bind::<Integer, _>(attempts)
    .bind::<Nullable<Text>, _>(last_error)
    .execute(conn)
    .await?;
    Ok(())
}

/// The steps of these members, in one statement.
pub async fn steps_of(
    conn: &mut AsyncPgConnection,
    members: &[MemberId],
) -> QueryResult<Vec<MemberStepRow>> {
    member_steps::table
        .filter(member_steps::membership_id.eq_any(members))
        .order((member_steps::membership_id, member_steps::step))
        .select(MemberStepRow::as_select())
        .load(conn)
        .await
}

/// Seals nothing itself: stores a sealed one-time password for the member's jobs.
pub async fn store_sealed(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(member_secrets::table)
        .values((
            member_secrets::membership_id.eq(member),
            member_secrets::sealed.eq(sealed),
        ))
        .on_conflict(member_secrets::membership_id)
        .do_update()
        .set((
            member_secrets::sealed.eq(sealed),
            member_secrets::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The member's sealed one-time password, if one is kept.
pub async fn sealed_of(
    conn: &mut AsyncPgConnection,
    member: MemberId,
) -> QueryResult<Option<Vec<u8>>> {
    member_secrets::table
        .find(member)
        .select(member_secrets::sealed)
        .first(conn)
        .await
        .optional()
}

/// Erases the member's sealed one-time password.
pub async fn erase_sealed(conn: &mut AsyncPgConnection, member: MemberId) -> QueryResult<()> {
    diesel::delete(member_secrets::table.find(member))
        .execute(conn)
        .await?;
    Ok(())
}

/// If no step of the member is pending or running, ends the operation: the membership's
/// status moves (`create` → `active`, or `error` when a step failed; `suspend` →
/// `suspended`; `resume` → `active`), the sealed password is erased once every step
/// succeeded, a finished `remove` deletes the membership, and one terminal event says how
/// it ended. Returns the events appended.
pub async fn end_if_settled(
    conn: &mut AsyncPgConnection,
    member: &LockedMember,
) -> QueryResult<Vec<MemberEventRow>> {
    let Some(operation) = member.operation else {
        return Ok(Vec::new());
    };
    let rows = steps_of(conn, &[member.id]).await?;
    let Some(failed) = failed_once_settled(rows.iter().map(|r| (r.step.as_str(), r.status))) else {
        return Ok(Vec::new());
    };
    let status = match (operation, failed.is_empty()) {
        (MemberOperation::Create, true) | (MemberOperation::Resume, true) => {
            Some(MembershipStatus::Active)
        }
        (MemberOperation::Create, false) => Some(MembershipStatus::Error),
        (MemberOperation::Suspend, true) => Some(MembershipStatus::Suspended),
        _ => None,
    };
    if let Some(status) = status {
        diesel::update(memberships::table.filter(memberships::id.eq(member.id)))
            .set((
                memberships::status.eq(status),
                memberships::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    }
    let event = if failed.is_empty() {
        erase_sealed(conn, member.id).await?;
        NewEvent::end(
            StepStatus::Ok,
            match operation {
                MemberOperation::Create => "created: the member is active",
                MemberOperation::Suspend => "suspended",
                MemberOperation::Resume => "resumed: the member is active",
                MemberOperation::ResetPassword => "the new password is set",
                MemberOperation::Remove => "removed",
                MemberOperation::ChangeRole => "the role in the files space is set",
            },
        )
    } else {
        NewEvent::end(
            StepStatus::Error,
            format!(
                "{} failed at step {}",
                operation.as_str(),
                failed.join(", ")
            ),
        )
    };
    let appended = append_events(conn, member.id, member.tenant_id, operation, &[event]).await?;
    if operation == MemberOperation::Remove && failed.is_empty() {
        diesel::delete(memberships::table.filter(memberships::id.eq(member.id)))
            .execute(conn)
            .await?;
    }
    Ok(appended)
}

/// The member's events after `after_seq`, oldest first, at most `limit`.
pub async fn events_after(
    conn: &mut AsyncPgConnection,
    member: MemberId,
    after_seq: i32,
    limit: i64,
) -> QueryResult<Vec<MemberEventRow>> {
    member_events::table
        .filter(member_events::membership_id.eq(member))
        .filter(member_events::seq.gt(after_seq))
        .order(member_events::seq.asc())
        .limit(limit)
        .select(MemberEventRow::as_select())
        .load(conn)
        .await
}

/// Events by id (what NOTIFY carries).
pub async fn events_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<MemberEventRow>> {
    member_events::table
        .filter(member_events::id.eq_any(ids))
        .select(MemberEventRow::as_select())
        .load(conn)
        .await
}

/// The member's newest event.
pub async fn latest_event(
    conn: &mut AsyncPgConnection,
    member: MemberId,
) -> QueryResult<Option<MemberEventRow>> {
    member_events::table
        .filter(member_events::membership_id.eq(member))
        .order(member_events::seq.desc())
        .select(MemberEventRow::as_select())
        .first(conn)
        .await
        .optional()
}
