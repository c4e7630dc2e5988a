//! The SQL of provisioning state: queue steps, move a step, append events, end a run.
//!
//! Every function that changes state runs inside the caller's transaction, after the
//! caller took the tenant row's lock ([`lock_tenant`]); that lock orders all transitions of
//! one tenant, so event sequence numbers follow commit order and a subscriber that reads
//! "everything after seq N" can never skip one that commits later with a smaller number.

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{EventRow, Step, StepRow, StepStatus};
use crate::db::cached;
use crate::db::schema::{provisioning_events, provisioning_steps, tenants};
use crate::domain::ids::TenantId;
use crate::domain::jobs::{self as queue, NewJob};
use crate::domain::steps::failed_once_settled;
use crate::domain::tenants::TenantStatus;
use crate::events::{self, Event};

/// The job kind that runs one step.
pub const JOB_KIND: &str = "provisioning_step";

/// What a step job carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepJob {
    /// The tenant.
    pub tenant: TenantId,
    /// The step (its database spelling in the payload).
    pub step: Step,
}

/// What a step needs of its tenant, read under the row's lock.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = tenants)]
pub struct LockedTenant {
    /// Id.
    pub id: TenantId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: TenantStatus,
    /// Primary mail domain.
    pub primary_domain: Option<String>,
    /// oCIS drive id, once created.
    pub ocis_space_id: Option<String>,
    /// Stripe customer id, once created.
    pub stripe_customer_id: Option<String>,
    /// The plan (`plans.key`).
    pub plan: String,
}

/// Locks tenant `id`'s row for the rest of the transaction (`FOR NO KEY UPDATE`: foreign
/// key checks of other tables still pass) and reads it.
pub async fn lock_tenant(
    conn: &mut AsyncPgConnection,
    id: TenantId,
) -> QueryResult<Option<LockedTenant>> {
    Ok(lock_tenants(conn, &[id]).await?.pop())
}

/// An event to append to a tenant's log.
pub type NewEvent = crate::domain::steps::NewEvent<Step>;

/// Appends `new` to the tenant's log with the next sequence numbers and NOTIFYs each id at
/// commit (two statements). The caller holds the tenant's lock.
pub async fn append_events(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    new: &[NewEvent],
) -> QueryResult<Vec<EventRow>> {
    let of: Vec<(TenantId, NewEvent)> = new.iter().map(|e| (tenant, e.clone())).collect();
    let mut rows = append_events_of(conn, &of).await?;
    rows.sort_by_key(|r| r.seq);
    Ok(rows)
}

/// Marks `steps` pending for a new run (creating missing step rows), queues one job per
/// step, and appends one `pending` event per step (five statements). The caller holds the
/// tenant's lock (or just inserted the tenant).
pub async fn queue_steps(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    steps: &[Step],
    max_attempts: u32,
    why: &str,
) -> QueryResult<Vec<EventRow>> {
    cached(
        diesel::sql_query(
            "INSERT INTO provisioning_steps (tenant_id, step)
         SELECT $1, unnest($2::text[])
         ON CONFLICT (tenant_id, step) DO UPDATE
            SET status = $3, attempts = 0, last_error = NULL, updated_at = now()",
        )
        .bind::<diesel::sql_types::Uuid, _>(tenant)
        .bind::<Array<Text>, _>(steps)
        .bind::<Text, _>(StepStatus::Pending),
    )
    .execute(conn)
    .await?;
    let jobs: Vec<NewJob> = steps
        .iter()
        .map(|step| NewJob {
            kind: JOB_KIND,
            payload: serde_json::to_value(StepJob {
                tenant,
                step: *step,
            })
            .expect("a step job serializes"),
            dedupe_key: Some(format!("provisioning:{tenant}:{}", step.as_str())),
            max_attempts,
        })
        .collect();
    queue::enqueue(conn, &jobs).await?;
    let new: Vec<NewEvent> = steps
        .iter()
        .map(|s| NewEvent::step(*s, StepStatus::Pending, why))
        .collect();
    append_events(conn, tenant, &new).await
}

/// A step's new state.
#[derive(Debug, Clone)]
pub struct StepUpdate<'a> {
    /// Status.
    pub status: StepStatus,
    /// Attempts of this run so far.
    pub attempts: i32,
    /// The failure's message (cleared when `None`).
    pub last_error: Option<&'a str>,
    /// The upstream object's id (kept when `None`).
    pub upstream_id: Option<&'a str>,
}

/// Writes a step's state (one statement).
pub async fn set_step(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    step: Step,
    update: &StepUpdate<'_>,
) -> QueryResult<()> {
    set_steps(conn, &[((tenant, step), update.clone())]).await
}

/// Marks a step `running` for attempt `attempts`, keeping its last error, and returns the
/// upstream id it already has, if any (one statement).
pub async fn start_step(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    step: Step,
    attempts: i32,
) -> QueryResult<Option<String>> {
    let started = start_steps(conn, &[((tenant, step), attempts)]).await?;
    Ok(started.into_iter().next().and_then(|(_, id)| id))
}

/// Copies an upstream id to the tenant's own column, where there is one.
pub async fn store_handle(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    step: Step,
    id: &str,
) -> QueryResult<()> {
    let target = tenants::table.find(tenant);
    match step {
        Step::AuthentikGroup => {
            diesel::update(target)
                .set(tenants::authentik_group_id.eq(id))
                .execute(conn)
                .await?
        }
        Step::StalwartDomain => {
            diesel::update(target)
                .set(tenants::stalwart_domain_id.eq(id))
                .execute(conn)
                .await?
        }
        Step::OcisSpace => {
            diesel::update(target)
                .set(tenants::ocis_space_id.eq(id))
                .execute(conn)
                .await?
        }
        // Webhook events name the customer: this is how they find the tenant.
        Step::StripeCustomer => {
            diesel::update(target)
                .set(tenants::stripe_customer_id.eq(id))
                .execute(conn)
                .await?
        }
        // Mirrored onto `subscriptions` by the step itself.
        Step::StripeSubscription => 0,
    };
    Ok(())
}

/// The steps of these tenants.
pub async fn steps_of(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<StepRow>> {
    provisioning_steps::table
        .filter(provisioning_steps::tenant_id.eq_any(tenant_ids))
        .select(StepRow::as_select())
        .load(conn)
        .await
}

/// One step's row.
pub async fn step(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    step: Step,
) -> QueryResult<Option<StepRow>> {
    provisioning_steps::table
        .find((tenant, step))
        .select(StepRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// If no step of the tenant is pending or running, ends the run: a `pending` tenant whose
/// steps are all `ok` or `skipped` becomes `active`; one terminal event says how it ended.
/// Returns the events appended (none while steps are still open).
pub async fn end_run_if_settled(
    conn: &mut AsyncPgConnection,
    tenant: &LockedTenant,
) -> QueryResult<Vec<EventRow>> {
    end_runs_if_settled(conn, std::slice::from_ref(tenant)).await
}

/// The tenant's events after `after_seq`, oldest first, at most `limit`.
pub async fn events_after(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    after_seq: i32,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    provisioning_events::table
        .filter(
            provisioning_events::tenant_id
                .eq(tenant)
                .and(provisioning_events::seq.gt(after_seq)),
        )
        .order(provisioning_events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// The newest `limit` events of each tenant, in one statement (oldest first per tenant).
pub async fn recent_events(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    cached(
        diesel::sql_query(
            "SELECT id, tenant_id, seq, step, status, message, terminal, at
           FROM (SELECT e.*, row_number() OVER (PARTITION BY e.tenant_id ORDER BY e.seq DESC) AS rn
                   FROM provisioning_events e WHERE e.tenant_id = ANY($1)) ranked
          WHERE rn <= $2
          ORDER BY tenant_id, seq",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(tenant_ids)
        .bind::<diesel::sql_types::BigInt, _>(limit),
    )
    .load(conn)
    .await
}

/// Events by id (what NOTIFY carries).
pub async fn events_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<EventRow>> {
    provisioning_events::table
        .filter(provisioning_events::id.eq_any(ids))
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// The tenant's newest event.
pub async fn latest_event(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
) -> QueryResult<Option<EventRow>> {
    provisioning_events::table
        .filter(provisioning_events::tenant_id.eq(tenant))
        .order(provisioning_events::seq.desc())
        .select(EventRow::as_select())
        .first(conn)
        .await
        .optional()
}

// ------------------------------------------------------------------ many tenants at once
//
// The job workers start and settle a batch of step jobs together: the functions below are
// the set-based forms of the ones above (one statement each, whatever the batch holds), with
// the same locking rule: the caller holds every tenant's lock ([`lock_tenants`]).

/// Locks the rows of tenants `ids` (in id order, so two batches never wait on each other in
/// a cycle) and reads them; missing tenants are left out.
pub async fn lock_tenants(
    conn: &mut AsyncPgConnection,
    ids: &[TenantId],
) -> QueryResult<Vec<LockedTenant>> {
    tenants::table
        .filter(tenants::id.eq_any(ids))
        .order(tenants::id)
        .select(LockedTenant::as_select())
        .for_no_key_update()
        .load(conn)
        .await
}

/// [`lock_tenants`] without waiting: tenants whose row another transaction holds are left
/// out, like missing ones.
pub async fn lock_tenants_unheld(
    conn: &mut AsyncPgConnection,
    ids: &[TenantId],
) -> QueryResult<Vec<LockedTenant>> {
    tenants::table
        .filter(tenants::id.eq_any(ids))
        .order(tenants::id)
        .select(LockedTenant::as_select())
        .for_no_key_update()
        .skip_locked()
        .load(conn)
        .await
}

/// A step of a tenant.
pub type StepOf = (TenantId, Step);

/// [`start_step`] for many steps: each `running` for its attempt; returns the upstream id
/// each already has (steps without a row are left out).
pub async fn start_steps(
    conn: &mut AsyncPgConnection,
    steps: &[(StepOf, i32)],
) -> QueryResult<Vec<(StepOf, Option<String>)>> {
    #[derive(QueryableByName)]
    struct Started {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        tenant_id: TenantId,
        #[diesel(sql_type = Text)]
        step: Step,
        #[diesel(sql_type = Nullable<Text>)]
        upstream_id: Option<String>,
    }
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: Vec<TenantId> = steps.iter().map(|((t, _), _)| *t).collect();
    let names: Vec<Step> = steps.iter().map(|((_, s), _)| *s).collect();
    let attempts: Vec<i32> = steps.iter().map(|(_, a)| *a).collect();
    let rows: Vec<Started> = cached(
        diesel::sql_query(
            "UPDATE provisioning_steps p
            SET status = $4, attempts = s.attempts, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::int[]) AS s(tenant_id, step, attempts)
          WHERE p.tenant_id = s.tenant_id AND p.step = s.step
         RETURNING p.tenant_id, p.step, p.upstream_id",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(tenants)
        .bind::<Array<Text>, _>(names)
        .bind::<Array<Integer>, _>(attempts)
        .bind::<Text, _>(StepStatus::Running),
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.tenant_id, r.step), r.upstream_id))
        .collect())
}

/// [`set_step`] for many steps (one statement).
pub async fn set_steps(
    conn: &mut AsyncPgConnection,
    updates: &[(StepOf, StepUpdate<'_>)],
) -> QueryResult<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let tenants: Vec<TenantId> = updates.iter().map(|((t, _), _)| *t).collect();
    let steps: Vec<Step> = updates.iter().map(|((_, s), _)| *s).collect();
    let statuses: Vec<StepStatus> = updates.iter().map(|(_, u)| u.status).collect();
    let attempts: Vec<i32> = updates.iter().map(|(_, u)| u.attempts).collect();
    let errors: Vec<Option<&str>> = updates.iter().map(|(_, u)| u.last_error).collect();
    let ids: Vec<Option<&str>> = updates.iter().map(|(_, u)| u.upstream_id).collect();
    cached(
        diesel::sql_query(
            "UPDATE provisioning_steps p
            SET status = s.status, attempts = s.attempts, last_error = s.last_error,
                upstream_id = coalesce(s.upstream_id, p.upstream_id), updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
                AS s(tenant_id, step, status, attempts, last_error, upstream_id)
          WHERE p.tenant_id = s.tenant_id AND p.step = s.step",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(tenants)
        .bind::<Array<Text>, _>(steps)
        .bind::<Array<Text>, _>(statuses)
        .bind::<Array<Integer>, _>(attempts)
        .bind::<Array<Nullable<Text>>, _>(errors)
        .bind::<Array<Nullable<Text>>, _>(ids),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// [`append_events`] for many tenants: each tenant's events get its next sequence numbers in
/// the order given; every id is NOTIFYed at commit, in id order, by the same statement (one
/// round trip fewer in the settling transaction, so its events reach subscribers sooner).
pub async fn append_events_of(
    conn: &mut AsyncPgConnection,
    new: &[(TenantId, NewEvent)],
) -> QueryResult<Vec<EventRow>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: Vec<TenantId> = new.iter().map(|(t, _)| *t).collect();
    let steps: Vec<Option<Step>> = new.iter().map(|(_, e)| e.step).collect();
    let statuses: Vec<StepStatus> = new.iter().map(|(_, e)| e.status).collect();
    let messages: Vec<&str> = new.iter().map(|(_, e)| e.message.as_str()).collect();
    let terminal: Vec<bool> = new.iter().map(|(_, e)| e.terminal).collect();
    // `pg_notify` in the select list of a sorted query runs after the sort: in id order.
    let rows: Vec<EventRow> = cached(
        diesel::sql_query(
            "WITH ins AS (
           INSERT INTO provisioning_events (tenant_id, seq, step, status, message, terminal)
           SELECT e.tenant_id,
                  coalesce(base.n, 0) + row_number() OVER (PARTITION BY e.tenant_id ORDER BY e.ord),
                  e.step, e.status, e.message, e.terminal
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[])
                  WITH ORDINALITY AS e(tenant_id, step, status, message, terminal, ord)
             LEFT JOIN LATERAL (SELECT max(seq) AS n FROM provisioning_events p
                                 WHERE p.tenant_id = e.tenant_id) base ON true
           RETURNING id, tenant_id, seq, step, status, message, terminal, at)
         SELECT ins.*, pg_notify($6, $7 || ins.id) AS noted FROM ins ORDER BY ins.id",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(tenants)
        .bind::<Array<Nullable<Text>>, _>(steps)
        .bind::<Array<Text>, _>(statuses)
        .bind::<Array<Text>, _>(messages)
        .bind::<Array<Bool>, _>(terminal)
        .bind::<Text, _>(events::CHANNEL)
        .bind::<Text, _>(events::PROVISIONING_PREFIX),
    )
    .load(conn)
    .await?;
    Ok(rows)
}

/// [`end_run_if_settled`] for many locked tenants: reads their steps once, activates the
/// `pending` ones whose steps all succeeded, and appends each ended run's terminal event
/// (two statements while runs are open, at most five when some end).
pub async fn end_runs_if_settled(
    conn: &mut AsyncPgConnection,
    tenants: &[LockedTenant],
) -> QueryResult<Vec<EventRow>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<TenantId> = tenants.iter().map(|t| t.id).collect();
    let rows = steps_of(conn, &ids).await?;
    let mut activate = Vec::new();
    let mut terminal = Vec::new();
    for tenant in tenants {
        let statuses = rows
            .iter()
            .filter(|r| r.tenant_id == tenant.id)
            .map(|r| (r.step.as_str(), r.status));
        let steps = statuses.clone().count();
        let Some(failed) = failed_once_settled(statuses) else {
            continue;
        };
        let event = if failed.is_empty() {
            let message = if tenant.status == TenantStatus::Pending {
                activate.push(tenant.id);
                "provisioned: the tenant is active".to_owned()
            } else {
                format!("provisioned (the tenant stays {})", tenant.status)
            };
            NewEvent::end(StepStatus::Ok, message)
        } else {
            NewEvent::end(
                StepStatus::Error,
                format!(
                    "{} of {steps} steps failed: {}",
                    failed.len(),
                    failed.join(", ")
                ),
            )
        };
        terminal.push((tenant.id, event));
    }
    if !activate.is_empty() {
        diesel::update(tenants::table.filter(tenants::id.eq_any(&activate)))
            .set((
                tenants::status.eq(TenantStatus::Active),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        let notes: Vec<Event> = activate
            .iter()
            .map(|id| Event::TenantChanged(id.uuid()))
            .collect();
        events::notify_all(conn, &notes).await?;
    }
    append_events_of(conn, &terminal).await
}
