//! `createMember`: the membership (and the person's user row when they are new here), the
//! sealed one-time password and the three step jobs, in one audited transaction.
//!
//! Who may: the tenant's admins and owners, the staff of its partner and operators; only
//! owners and above may create an owner. The address must be on one of the tenant's domains
//! (one not yet verified is allowed, with a warning); a domain of another tenant is refused
//! with the same message as an unknown one, so other tenants' domains do not leak.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::sealing::SealingKey;
use super::{MemberOperation, MemberRole, MemberRow, MemberStep, MembershipStatus, limits, steps};
use crate::auth::{Scope, TenantAccess};
use crate::db::schema::{domains, memberships, users};
use crate::domain::audit::change::{Caller, need};
use crate::domain::domains::DomainStatus;
use crate::domain::domains::name::MailDomain;
use crate::domain::ids::{MemberId, TenantId, UserId};
use crate::domain::tenants::{TenantRow, TenantStatus};
use crate::domain::values::Name;
use crate::error::{AppError, AppResult};
use crate::upstream::Secret;

/// What `createMember` is asked.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// The address (also the sign-in name and the mailbox).
    pub email: String,
    /// Full name.
    pub name: String,
    /// Role in the tenant.
    pub role: MemberRole,
}

/// A created member, its one-time password (returned once, never stored in plain text) and
/// warnings for the caller.
#[derive(Debug)]
pub struct Created {
    /// The member (`PROVISIONING` until its steps finish).
    pub member: MemberRow,
    /// The one-time password.
    pub password: Secret,
    /// For people: e.g. the address's domain is not verified yet.
    pub warnings: Vec<String>,
}

/// A mailbox address: a local part of `a-z 0-9 . _ + -` (1–64, lower-cased, no leading,
/// trailing or doubled dot) at a valid mail domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEmail {
    /// The local part.
    pub local: String,
    /// The domain, ASCII form.
    pub domain: MailDomain,
}

impl MemberEmail {
    /// Validates `raw`; errors name `field`.
    pub fn parse(raw: &str, field: &str) -> AppResult<Self> {
        let bad = |why: &str| AppError::bad_input(field, format!("{why}, e.g. ada@example.com"));
        let Some((local, domain)) = raw.trim().rsplit_once('@') else {
            return Err(bad("an email address is required"));
        };
        let local = local.to_lowercase();
        let ok = (1..=64).contains(&local.len())
            && local
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._+-".contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !ok {
            return Err(bad("not a valid mailbox name"));
        }
        Ok(Self {
            local,
            domain: MailDomain::parse(domain, field)?,
        })
    }

    /// `local@domain`.
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain.as_str())
    }
}

/// A tenant that is not active in the sense of members: suspended or terminated.
pub fn members_frozen(tenant: &TenantRow, what: &str) -> AppResult<()> {
    match tenant.status {
        TenantStatus::Suspended | TenantStatus::Terminated => Err(AppError::Conflict(format!(
            "the tenant is {}, so its members cannot be {what}",
            tenant.status
        ))),
        TenantStatus::Pending | TenantStatus::Active => Ok(()),
    }
}

/// How many seats the tenant uses and has (memberships of any status count).
pub async fn seats(conn: &mut AsyncPgConnection, tenant: TenantId) -> AppResult<(i64, i32)> {
    let used: i64 = memberships::table
        .filter(memberships::tenant_id.eq(tenant))
        .count()
        .get_result(conn)
        .await?;
    let limits = limits::limits_for(conn, &[tenant]).await?;
    let included = limits
        .get(&tenant)
        .map_or(limits::DEFAULT_SEATS_INCLUDED, |l| l.seats_included);
    Ok((used, included))
}

/// Checks that `address` is on one of the tenant's domains; a warning when that domain is
/// not verified yet.
async fn check_domain(
    conn: &mut AsyncPgConnection,
    tenant: &TenantRow,
    email: &MemberEmail,
) -> AppResult<Option<String>> {
    let holder: Option<(TenantId, DomainStatus)> = domains::table
        .filter(domains::name.eq(email.domain.as_str()))
        .select((domains::tenant_id, domains::status))
        .first(conn)
        .await
        .optional()?;
    let not_ours = || {
        AppError::bad_input(
            "input.email",
            "the address must be on one of the tenant's domains",
        )
    };
    match holder {
        Some((t, DomainStatus::Verified)) if t == tenant.id => Ok(None),
        Some((t, status)) if t == tenant.id => Ok(Some(format!(
            "the domain {} is not verified yet ({}): mail to the new address may not arrive",
            email.domain.as_str(),
            status
        ))),
        Some(_) => Err(not_ours()),
        None if tenant.primary_domain.as_deref() == Some(email.domain.as_str()) => {
            Ok(Some(format!(
                "the domain {} has not been added and verified yet: mail to the new address may not arrive",
                email.domain.as_str()
            )))
        }
        None => Err(not_ours()),
    }
}

/// The person with this address (the oldest such user row), or a new user row without a
/// subject: their first sign-in claims it (see `domain::users`).
async fn person(conn: &mut AsyncPgConnection, address: &str, name: &str) -> AppResult<UserId> {
    let existing: Option<UserId> = users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(address),
        )
        .order(users::created_at.asc())
        .select(users::id)
        .first(conn)
        .await
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    Ok(diesel::insert_into(users::table)
        .values((users::email.eq(address), users::name.eq(name)))
        .returning(users::id)
        .get_result(conn)
        .await?)
}

/// The member with id `id`, whoever may see it (inside a change that already checked).
pub async fn row(conn: &mut AsyncPgConnection, id: MemberId) -> AppResult<MemberRow> {
    super::visible(conn, &Scope::All, &[id])
        .await?
        .pop()
        .ok_or(AppError::NotFound { what: "member" })
}

/// `createMember`.
pub async fn create(
    caller: &Caller,
    key: &SealingKey,
    tenant: &str,
    input: NewMember,
    max_attempts: u32,
) -> AppResult<Created> {
    caller
        .change("member.create", "member")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |mut tx, tenant| {
                let email = MemberEmail::parse(&input.email, "input.email")?;
                let name = Name::parse(&input.name, "input.name")?;
                let address = email.address();
                tx.audit.details =
                    json!({ "email": address, "name": name.as_str(), "role": input.role });
                if input.role == MemberRole::Owner {
                    let access = tx.viewer.tenant_access(tenant.tenant_ref());
                    tx.allow(
                        access >= TenantAccess::Owner,
                        "only owners may create an owner",
                    )?;
                }
                members_frozen(&tenant, "created")?;
                let warning = check_domain(tx.conn, &tenant, &email).await?;
                let (used, included) = seats(tx.conn, tenant.id).await?;
                if used >= i64::from(included) {
                    return Err(AppError::Conflict(format!(
                        "the tenant's subscription has {included} seats and all {used} are in use"
                    )));
                }
                let user = person(tx.conn, &address, name.as_str()).await?;
                let inserted: Option<MemberId> = diesel::insert_into(memberships::table)
                    .values((
                        memberships::user_id.eq(user),
                        memberships::tenant_id.eq(tenant.id),
                        memberships::role.eq(input.role),
                        memberships::status.eq(MembershipStatus::Provisioning),
                    ))
                    .on_conflict_do_nothing()
                    .returning(memberships::id)
                    .get_result(tx.conn)
                    .await
                    .optional()?;
                let Some(id) = inserted else {
                    return Err(AppError::Conflict(
                        "this person is already a member of the tenant".into(),
                    ));
                };
                tx.audit.target_id = Some(id.to_string());
                let password = super::password::generate();
                steps::store_sealed(tx.conn, id, &key.seal(&password)).await?;
                steps::queue_operation(
                    tx.conn,
                    id,
                    tenant.id,
                    MemberOperation::Create,
                    MemberStep::ALL,
                    max_attempts,
                    "queued by createMember",
                )
                .await?;
                let mut warnings: Vec<String> = warning.into_iter().collect();
                if let Some(event) = super::seats::announce(tx.conn, tenant.id)
                    .await?
                    .filter(|e| e.level > 0)
                {
                    warnings.push(format!(
                        "the tenant now uses {} % of its {} seats",
                        event.percent(),
                        event.included
                    ));
                    tx.audit.details["seatWarning"] = json!(event.level);
                }
                tx.audit.details["warnings"] = json!(warnings);
                Ok(Created {
                    member: row(tx.conn, id).await?,
                    password,
                    warnings,
                })
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_refuse_with_the_field() {
        let e = MemberEmail::parse(" Ada.L+x@Example.COM ", "input.email").unwrap();
        assert_eq!(e.address(), "ada.l+x@example.com");
        for bad in [
            "",
            "ada",
            "@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a b@example.com",
            "ada@localhost",
        ] {
            match MemberEmail::parse(bad, "input.email") {
                Err(AppError::BadUserInput { field, .. }) => assert_eq!(field, "input.email"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
