//! A partner's own team: the staff list, and `inviteStaff`, `changeStaffAccess` and
//! `removeStaff` (the partner's admins and operators, through the audited runner).
//!
//! Staff sign in through Authentik: an invite ensures the Authentik user (by e-mail as
//! username) and adds it to the partner's staff group (`dezky-partner-<slug>`, ensured like a
//! tenant's group and remembered in `partners.authentik_group_id`). Every upstream step
//! "ensures", so inviting twice makes one user and one membership. The upstream calls run
//! inside the change's transaction after every check, so a refusal calls nothing and a
//! failed call writes nothing (but the audit row). Without Authentik configured, an invite
//! is `UPSTREAM_UNAVAILABLE`.
//!
//! Rules: the last admin of a partner can be neither demoted nor removed, and nobody removes
//! themselves.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::{AccessLevel, PartnerRow, PartnerStatus};
use crate::auth::PartnerAccess;
use crate::db::schema::{partner_staff, partners, users};
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::{PartnerId, UserId};
use crate::domain::values::{DomainName, Name};
use crate::error::{AppError, AppResult};
use crate::upstream::authentik::{AuthentikClient, NewUser, PartnerGroup};

/// One staff member: the position and the person.
#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    /// The person.
    pub user_id: UserId,
    /// The partner.
    pub partner_id: PartnerId,
    /// Their level.
    pub access_level: AccessLevel,
    /// Their Authentik user, when known.
    pub authentik_user_pk: Option<i64>,
    /// Since when.
    pub created_at: DateTime<Utc>,
    /// Their e-mail.
    pub email: String,
    /// Their name.
    pub name: String,
}

diesel::define_sql_function! {
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

type StaffColumns = (
    partner_staff::user_id,
    partner_staff::partner_id,
    partner_staff::access_level,
    partner_staff::authentik_user_pk,
    partner_staff::created_at,
    users::email,
    users::name,
);

const STAFF_COLUMNS: StaffColumns = (
    partner_staff::user_id,
    partner_staff::partner_id,
    partner_staff::access_level,
    partner_staff::authentik_user_pk,
    partner_staff::created_at,
    users::email,
    users::name,
);

impl StaffRow {
    /// Its sort key in the staff list (what a cursor encodes): the e-mail, then the id.
    pub fn key(&self) -> String {
        format!("{}\u{1f}{}", self.email.to_lowercase(), self.user_id)
    }
}

/// A forward page (`limit + 1` rows) of the staff of each of `partners`, by e-mail, in one
/// statement.
pub async fn pages_by_partner(
    conn: &mut AsyncPgConnection,
    partners: &[PartnerId],
    after: Option<&str>,
    limit: usize,
) -> QueryResult<Vec<StaffRow>> {
    // The rows are few per partner; sorted and cut here per partner.
    let rows: Vec<StaffRow> = partner_staff::table
        .inner_join(users::table)
        .filter(partner_staff::partner_id.eq_any(partners))
        .select(STAFF_COLUMNS)
        .load(conn)
        .await?;
    let mut rows: Vec<(String, StaffRow)> = rows
        .into_iter()
        .map(|r| (r.key(), r))
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .collect();
    rows.sort_by(|a, b| (a.1.partner_id, &a.0).cmp(&(b.1.partner_id, &b.0)));
    let mut out = Vec::new();
    let mut current: Option<PartnerId> = None;
    let mut taken = 0;
    for (_, row) in rows {
        if current != Some(row.partner_id) {
            current = Some(row.partner_id);
            taken = 0;
        }
        if taken <= limit {
            out.push(row);
            taken += 1;
        }
    }
    Ok(out)
}

/// How many staff each of `partners` has.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    partners: &[PartnerId],
) -> QueryResult<Vec<(PartnerId, i64)>> {
    partner_staff::table
        .filter(partner_staff::partner_id.eq_any(partners))
        .group_by(partner_staff::partner_id)
        .select((partner_staff::partner_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// An e-mail address: `local@domain`, the domain a valid DNS name; at most 254 characters;
/// lower-cased.
fn email(raw: &str, field: &str) -> AppResult<String> {
    let s = raw.trim();
    let bad = || AppError::bad_input(field, "not a valid e-mail address");
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@');
    if !local_ok || s.len() > 254 {
        return Err(bad());
    }
    let domain = DomainName::parse(domain, field).map_err(|_| bad())?;
    // Stored and used as the Authentik username in lower case, so `Ann@X` and `ann@x` are one
    // person.
    Ok(format!("{}@{}", local.to_lowercase(), domain.as_str()))
}

/// The staff of `partner`, locked for the rest of the transaction (the last-admin rule
/// reads them).
async fn locked_staff(
    conn: &mut AsyncPgConnection,
    partner: PartnerId,
) -> AppResult<Vec<(UserId, AccessLevel, Option<i64>)>> {
    Ok(partner_staff::table
        .filter(partner_staff::partner_id.eq(partner))
        .select((
            partner_staff::user_id,
            partner_staff::access_level,
            partner_staff::authentik_user_pk,
        ))
        .for_update()
        .load(conn)
        .await?)
}

fn not_terminated(partner: &PartnerRow) -> AppResult<()> {
    if partner.status == PartnerStatus::Terminated {
        return Err(AppError::bad_input(
            "input.partner",
            "the partner is terminated, so its staff cannot be changed",
        ));
    }
    Ok(())
}

async fn staff_row(
    conn: &mut AsyncPgConnection,
    partner: PartnerId,
    user: UserId,
) -> AppResult<StaffRow> {
    Ok(partner_staff::table
        .inner_join(users::table)
        .filter(
            partner_staff::partner_id
                .eq(partner)
                .and(partner_staff::user_id.eq(user)),
        )
        .select(STAFF_COLUMNS)
        .first(conn)
        .await?)
}

/// Input of `inviteStaff`.
#[derive(Debug, Clone)]
pub struct Invite {
    /// Slug of the partner.
    pub partner: String,
    /// The new staff member's e-mail (their Authentik username).
    pub email: String,
    /// Their display name (default: the e-mail).
    pub name: Option<String>,
    /// Their level.
    pub access_level: AccessLevel,
}

/// `inviteStaff`.
pub async fn invite(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    input: Invite,
) -> AppResult<StaffRow> {
    let slug = input.partner.clone();
    caller
        .change("partner.staff.invite", "partner_staff")
        .run(
            need::partner(&slug, PartnerAccess::Admin),
            async move |tx, partner| {
                let address = email(&input.email, "input.email")?;
                tx.audit.target_id = Some(address.clone());
                tx.audit.details =
                    json!({ "email": address, "accessLevel": input.access_level.as_str() });
                let name = match &input.name {
                    Some(n) => Name::parse(n, "input.name")?.as_str().to_owned(),
                    None => address.clone(),
                };
                not_terminated(&partner)?;
                let Some(client) = authentik else {
                    return Err(AppError::UpstreamUnavailable {
                        service: "authentik",
                        cause: anyhow::anyhow!("Authentik is not configured"),
                    });
                };
                let existing: Option<UserId> = users::table
                    .filter(lower(users::email).eq(address.to_lowercase()))
                    .order(users::created_at.asc())
                    .select(users::id)
                    .first(tx.conn)
                    .await
                    .optional()?;
                if let Some(user) = existing {
                    let level: Option<AccessLevel> = partner_staff::table
                        .filter(
                            partner_staff::partner_id
                                .eq(partner.id)
                                .and(partner_staff::user_id.eq(user)),
                        )
                        .select(partner_staff::access_level)
                        .first(tx.conn)
                        .await
                        .optional()?;
                    if level.is_some_and(|l| l != input.access_level) {
                        return Err(AppError::Conflict(
                            "already on the team with another access level; use changeStaffAccess"
                                .into(),
                        ));
                    }
                }
                // Upstream: the partner's group, the user, the membership (each ensured).
                let group = client
                    .ensure_partner_group(&PartnerGroup {
                        partner_id: partner.id.to_string(),
                        partner_slug: partner.slug.clone(),
                    })
                    .await?;
                let upstream = client
                    .ensure_user(&NewUser {
                        username: address.clone(),
                        name: name.clone(),
                        email: Some(address.clone()),
                        path: Some(format!("dezky/partners/{}", partner.slug)),
                    })
                    .await?;
                client.add_user_to_group(&group.pk, upstream.pk).await?;
                diesel::update(partners::table.find(partner.id))
                    .set(partners::authentik_group_id.eq(&group.pk))
                    .execute(tx.conn)
                    .await?;
                let user = match existing {
                    Some(user) => user,
                    None => {
                        let subject = if upstream.uid.is_empty() {
                            upstream.uuid.clone()
                        } else {
                            upstream.uid.clone()
                        };
                        diesel::insert_into(users::table)
                            .values((
                                users::authentik_subject.eq(subject),
                                users::email.eq(&address),
                                users::name.eq(&name),
                            ))
                            .on_conflict(users::authentik_subject)
                            .do_update()
                            .set(users::email.eq(&address))
                            .returning(users::id)
                            .get_result(tx.conn)
                            .await?
                    }
                };
                diesel::insert_into(partner_staff::table)
                    .values((
                        partner_staff::user_id.eq(user),
                        partner_staff::partner_id.eq(partner.id),
                        partner_staff::access_level.eq(input.access_level),
                        partner_staff::authentik_user_pk.eq(upstream.pk),
                    ))
                    .on_conflict((partner_staff::user_id, partner_staff::partner_id))
                    .do_update()
                    .set(partner_staff::authentik_user_pk.eq(upstream.pk))
                    .execute(tx.conn)
                    .await?;
                tx.audit.details["authentikUserPk"] = json!(upstream.pk);
                staff_row(tx.conn, partner.id, user).await
            },
        )
        .await
}

/// `changeStaffAccess`: the last admin cannot be demoted.
pub async fn change_access(
    caller: &Caller,
    partner: &str,
    user: UserId,
    level: AccessLevel,
) -> AppResult<StaffRow> {
    caller
        .change("partner.staff.change_access", "partner_staff")
        .run(
            need::partner(partner, PartnerAccess::Admin),
            async move |tx, partner| {
                tx.audit.target_id = Some(user.to_string());
                not_terminated(&partner)?;
                let staff = locked_staff(tx.conn, partner.id).await?;
                let Some(&(_, from, _)) = staff.iter().find(|(u, _, _)| *u == user) else {
                    return Err(AppError::NotFound {
                        what: "staff member",
                    });
                };
                tx.audit.details = json!({ "from": from.as_str(), "to": level.as_str() });
                if from == level {
                    return Err(AppError::bad_input(
                        "input.accessLevel",
                        "the staff member already has this access level",
                    ));
                }
                let admins = staff
                    .iter()
                    .filter(|(_, l, _)| *l == AccessLevel::Admin)
                    .count();
                if from == AccessLevel::Admin && admins == 1 {
                    return Err(AppError::Conflict(
                        "the partner's last admin cannot be demoted; make someone else admin first"
                            .into(),
                    ));
                }
                diesel::update(
                    partner_staff::table.filter(
                        partner_staff::partner_id
                            .eq(partner.id)
                            .and(partner_staff::user_id.eq(user)),
                    ),
                )
                .set((
                    partner_staff::access_level.eq(level),
                    partner_staff::updated_at.eq(diesel::dsl::now),
                ))
                .execute(tx.conn)
                .await?;
                staff_row(tx.conn, partner.id, user).await
            },
        )
        .await
}

/// `removeStaff`: takes the person off the team and out of the partner's Authentik group
/// (their Authentik user stays: it may belong to tenants too). The last admin and the
/// caller themselves cannot be removed.
pub async fn remove(
    caller: &Caller,
    authentik: Option<Arc<dyn AuthentikClient>>,
    partner: &str,
    user: UserId,
) -> AppResult<StaffRow> {
    caller
        .change("partner.staff.remove", "partner_staff")
        .run(
            need::partner(partner, PartnerAccess::Admin),
            async move |tx, partner| {
                tx.audit.target_id = Some(user.to_string());
                if user == tx.viewer.user_id {
                    return Err(AppError::bad_input(
                        "input.user",
                        "you cannot remove yourself from the team",
                    ));
                }
                let staff = locked_staff(tx.conn, partner.id).await?;
                let Some(&(_, level, upstream_pk)) = staff.iter().find(|(u, _, _)| *u == user)
                else {
                    return Err(AppError::NotFound {
                        what: "staff member",
                    });
                };
                tx.audit.details = json!({ "accessLevel": level.as_str() });
                let admins = staff
                    .iter()
                    .filter(|(_, l, _)| *l == AccessLevel::Admin)
                    .count();
                if level == AccessLevel::Admin && admins == 1 {
                    return Err(AppError::Conflict(
                        "the partner's last admin cannot be removed".into(),
                    ));
                }
                let row = staff_row(tx.conn, partner.id, user).await?;
                diesel::delete(
                    partner_staff::table.filter(
                        partner_staff::partner_id
                            .eq(partner.id)
                            .and(partner_staff::user_id.eq(user)),
                    ),
                )
                .execute(tx.conn)
                .await?;
                let group: Option<String> = partners::table
                    .find(partner.id)
                    .select(partners::authentik_group_id)
                    .first(tx.conn)
                    .await?;
                if let (Some(client), Some(group), Some(pk)) = (&authentik, group, upstream_pk) {
                    client.remove_user_from_group(&group, pk).await?;
                }
                Ok(row)
            },
        )
        .await
}

/// What Authentik knows of a staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamFacts {
    /// Whether they have at least one authenticator (MFA device).
    pub mfa_enrolled: bool,
    /// When they last signed in.
    pub last_sign_in: Option<DateTime<Utc>>,
}

/// How many Authentik calls a staff page runs at once.
pub const UPSTREAM_CONCURRENCY: usize = 8;

/// [`UpstreamFacts`] of each Authentik user in `pks`: two calls per user (the user, its
/// authenticators), at most [`UPSTREAM_CONCURRENCY`] users at a time — never one after the
/// other. A user whose calls fail is left out (logged), so the fields read `null`.
pub async fn upstream_facts(
    client: &dyn AuthentikClient,
    pks: &[i64],
) -> std::collections::HashMap<i64, UpstreamFacts> {
    use futures_util::StreamExt;
    let mut pks = pks.to_vec();
    pks.sort_unstable();
    pks.dedup();
    futures_util::stream::iter(pks)
        .map(|pk| async move {
            let facts = futures_util::future::try_join(client.user(pk), client.count_authenticators(pk))
                .await
                .map(|(user, devices)| UpstreamFacts {
                    mfa_enrolled: devices > 0,
                    last_sign_in: user.last_login,
                });
            (pk, facts)
        })
        .buffer_unordered(UPSTREAM_CONCURRENCY)
        .filter_map(|(pk, facts)| async move {
            match facts {
                Ok(f) => Some((pk, f)),
                Err(error) => {
                    tracing::warn!(%error, user_pk = pk, "could not read a staff member from Authentik");
                    None
                }
            }
        })
        .collect()
        .await
}
