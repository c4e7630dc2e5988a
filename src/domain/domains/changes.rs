//! Adding, configuring and removing a tenant's mail domains, each through the audited runner.
//!
//! Who may: the tenant's admins and owners, the staff of its partner and operators
//! (`TenantAccess::Admin` and up); anyone else who may see the tenant gets `FORBIDDEN`, who
//! may not `NOT_FOUND`. Invalid input writes nothing but the audit row.

use std::sync::Arc;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::name::{MailDomain, unicode};
use super::{DmarcPolicy, DomainRow, RecordKind, RecordOverride, RecordStatus, verify};
use crate::auth::TenantAccess;
use crate::db::schema::{domain_record_overrides, domains, tenants};
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::{DomainId, TenantId};
use crate::domain::jobs::{self as queue, NewJob};
use crate::domain::tenants::{TenantRow, TenantStatus};
use crate::error::{AppError, AppResult};
use crate::upstream::dns::DnsClient;
use crate::upstream::stalwart::StalwartClient;

/// The job kind that ensures a domain in Stalwart and reads its DNS records.
pub const ENSURE_JOB: &str = "domain_ensure";

/// The most `rua` addresses a domain takes.
pub const MAX_RUA: usize = 10;

/// What an ensure job carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnsureJob {
    /// The domain.
    pub domain: DomainId,
}

/// Queues the ensure job of `domain` (in the caller's transaction; one live job per domain).
pub async fn queue_ensure(
    conn: &mut AsyncPgConnection,
    domain: DomainId,
    max_attempts: u32,
) -> QueryResult<usize> {
    queue_ensure_all(conn, &[domain], max_attempts).await
}

/// Queues the ensure jobs of `domains` in one statement (one live job per domain: a domain
/// whose job is still queued or running is skipped).
pub async fn queue_ensure_all(
    conn: &mut AsyncPgConnection,
    domains: &[DomainId],
    max_attempts: u32,
) -> QueryResult<usize> {
    let jobs: Vec<NewJob> = domains
        .iter()
        .map(|&domain| NewJob {
            kind: ENSURE_JOB,
            payload: json!(EnsureJob { domain }),
            dedupe_key: Some(format!("{ENSURE_JOB}:{domain}")),
            max_attempts,
        })
        .collect();
    queue::enqueue(conn, &jobs).await
}

/// Queues the ensure job of `tenant`'s primary domain row, when it has one: the row the
/// `tenants.primary_domain` trigger writes on `createTenant` and `updateTenant`, which would
/// otherwise never get its records read from Stalwart.
pub async fn queue_ensure_primary(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    max_attempts: u32,
) -> QueryResult<usize> {
    let primary: Option<DomainId> = domains::table
        .filter(domains::tenant_id.eq(tenant))
        .filter(domains::is_primary)
        .select(domains::id)
        .first(conn)
        .await
        .optional()?;
    match primary {
        Some(domain) => queue_ensure(conn, domain, max_attempts).await,
        None => Ok(0),
    }
}

fn not_terminated(tenant: &TenantRow) -> AppResult<()> {
    if tenant.status == TenantStatus::Terminated {
        return Err(AppError::bad_input(
            "input.tenant",
            "the tenant is terminated, so its domains cannot be changed",
        ));
    }
    Ok(())
}

/// The tenant's domain named (in either form) by `raw`, locked for the rest of the
/// transaction; `NOT_FOUND` when the tenant has no such domain.
async fn locked_domain(
    conn: &mut AsyncPgConnection,
    tenant: &TenantRow,
    raw: &str,
) -> AppResult<DomainRow> {
    let name = MailDomain::parse(raw, "input.domain")?;
    domains::table
        .filter(
            domains::tenant_id
                .eq(tenant.id)
                .and(domains::name.eq(name.as_str())),
        )
        .select(DomainRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "domain" })
}

/// `addDomain`: the row (`PENDING_VERIFICATION`) and the job that ensures it in Stalwart
/// (`max_attempts`), in one transaction. A name any tenant already holds is `CONFLICT`; the
/// message never names another tenant.
pub async fn add(
    caller: &Caller,
    tenant: &str,
    name: &str,
    max_attempts: u32,
) -> AppResult<DomainRow> {
    let name = name.to_owned();
    caller
        .change("domain.add", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                let domain = MailDomain::parse(&name, "input.name")?;
                tx.audit.target_id = Some(domain.as_str().to_owned());
                tx.audit.details = json!({
                    "name": domain.as_str(), "unicodeName": unicode(domain.as_str()),
                });
                not_terminated(&tenant)?;
                let holder: Option<crate::domain::ids::TenantId> = domains::table
                    .filter(domains::name.eq(domain.as_str()))
                    .select(domains::tenant_id)
                    .first(tx.conn)
                    .await
                    .optional()?;
                match holder {
                    Some(t) if t == tenant.id => {
                        return Err(AppError::Conflict(
                            "the tenant already has this domain".into(),
                        ));
                    }
                    Some(_) => return Err(taken()),
                    None => {}
                }
                let row: DomainRow = diesel::insert_into(domains::table)
                    .values((
                        domains::tenant_id.eq(tenant.id),
                        domains::name.eq(domain.as_str()),
                    ))
                    .returning(DomainRow::as_returning())
                    .get_result(tx.conn)
                    .await
                    .map_err(conflict_on_name)?;
                queue_ensure(tx.conn, row.id, max_attempts).await?;
                Ok(row)
            },
        )
        .await
}

fn taken() -> AppError {
    AppError::Conflict("the domain is already in use by another tenant".into())
}

fn conflict_on_name(error: DieselError) -> AppError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("domains_name_key") =>
        {
            taken()
        }
        _ => error.into(),
    }
}

/// A DMARC report address: `local@domain`, the domain normalised like a mail domain.
fn rua_address(raw: &str, field: &str) -> AppResult<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("mailto:").unwrap_or(raw);
    let bad = || AppError::bad_input(field, "not an e-mail address, e.g. dmarc@example.com");
    let (local, domain) = raw.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@,;!<>()[]\\\"".contains(&b));
    if !local_ok {
        return Err(bad());
    }
    let domain = MailDomain::parse(domain, field).map_err(|_| bad())?;
    Ok(format!("{local}@{}", domain.as_str()))
}

/// `setDomainDmarc`: the policy and report addresses the domain should publish (the expected
/// DMARC record changes with them).
pub async fn set_dmarc(
    caller: &Caller,
    tenant: &str,
    domain: &str,
    policy: DmarcPolicy,
    rua: Vec<String>,
) -> AppResult<DomainRow> {
    let domain = domain.to_owned();
    caller
        .change("domain.set_dmarc", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(domain.clone());
                not_terminated(&tenant)?;
                if rua.len() > MAX_RUA {
                    return Err(AppError::bad_input(
                        "input.rua",
                        format!("at most {MAX_RUA} addresses"),
                    ));
                }
                let rua = rua
                    .iter()
                    .enumerate()
                    .map(|(i, a)| rua_address(a, &format!("input.rua.{i}")))
                    .collect::<AppResult<Vec<_>>>()?;
                let current = locked_domain(tx.conn, &tenant, &domain).await?;
                tx.audit.target_id = Some(current.name.clone());
                tx.audit.details = json!({
                    "policy": { "from": current.dmarc_policy, "to": policy },
                    "rua": { "from": current.dmarc_rua, "to": rua },
                });
                Ok(diesel::update(domains::table.find(current.id))
                    .set((
                        domains::dmarc_policy.eq(policy),
                        domains::dmarc_rua.eq(json!(rua)),
                    ))
                    .returning(DomainRow::as_returning())
                    .get_result(tx.conn)
                    .await?)
            },
        )
        .await
}

/// `setPrimaryDomain`: makes the domain the tenant's primary one (and `Tenant.primaryDomain`,
/// which mirrors it while that column exists).
pub async fn set_primary(caller: &Caller, tenant: &str, domain: &str) -> AppResult<DomainRow> {
    let domain = domain.to_owned();
    caller
        .change("domain.set_primary", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(domain.clone());
                not_terminated(&tenant)?;
                let current = locked_domain(tx.conn, &tenant, &domain).await?;
                tx.audit.target_id = Some(current.name.clone());
                tx.audit.details = json!({
                    "from": tenant.primary_domain, "to": current.name,
                });
                diesel::update(
                    domains::table.filter(
                        domains::tenant_id
                            .eq(tenant.id)
                            .and(domains::is_primary)
                            .and(domains::id.ne(current.id)),
                    ),
                )
                .set(domains::is_primary.eq(false))
                .execute(tx.conn)
                .await?;
                let row = diesel::update(domains::table.find(current.id))
                    .set(domains::is_primary.eq(true))
                    .returning(DomainRow::as_returning())
                    .get_result(tx.conn)
                    .await?;
                diesel::update(tenants::table.find(tenant.id))
                    .set(tenants::primary_domain.eq(&row.name))
                    .execute(tx.conn)
                    .await?;
                Ok(row)
            },
        )
        .await
}

/// The shortest time between two checks a caller asks for.
pub const RECHECK_GAP: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// How a requested check is run.
#[derive(Debug, Clone, Copy)]
pub struct RecheckSettings {
    /// Failed checks in a row that make a domain `FAILING`.
    pub failing_after: u32,
    /// The interval of the scheduled checks (the next one is planned from now).
    pub interval: std::time::Duration,
}

/// `recheckDomain`: checks the domain now and stores the result like a scheduled check (a
/// status change also writes the verifier's `domain.status_changed` row). At most once a
/// minute per domain (`RATE_LIMITED` with the seconds to wait). The DNS queries run inside the
/// change's transaction (bounded by `DNS_TIMEOUT_MS`), with the row locked.
pub async fn recheck(
    caller: &Caller,
    dns: Arc<DnsClient>,
    tenant: &str,
    domain: &str,
    settings: RecheckSettings,
) -> AppResult<DomainRow> {
    let domain = domain.to_owned();
    caller
        .change("domain.recheck", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(domain.clone());
                let current = locked_domain(tx.conn, &tenant, &domain).await?;
                tx.audit.target_id = Some(current.name.clone());
                let now = chrono::Utc::now();
                if let Some(last) = current.last_checked_at
                    && now - last < RECHECK_GAP
                {
                    let wait = (RECHECK_GAP - (now - last)).num_seconds().max(1);
                    return Err(AppError::RateLimited {
                        retry_after_secs: u64::try_from(wait).ok(),
                    });
                }
                let overrides = super::overrides_of(tx.conn, &[current.id]).await?;
                let checked =
                    verify::check(&dns, &current, &overrides, settings.failing_after).await;
                tx.audit.details = json!({
                    "from": current.status, "to": checked.status,
                    "outcome": format!("{:?}", checked.outcome).to_lowercase(),
                });
                verify::save(tx.conn, std::slice::from_ref(&checked), settings.interval).await?;
                Ok(domains::table
                    .find(current.id)
                    .select(DomainRow::as_select())
                    .first(tx.conn)
                    .await?)
            },
        )
        .await
}

/// `overrideDomainRecord` (operators): accepts a failing record of the last check as it is,
/// with a reason; it shows `OK` (overridden) at once and in later checks while the published
/// value stays the one accepted. The domain's status moves at its next check.
pub async fn override_record(
    caller: &Caller,
    tenant: &str,
    domain: &str,
    kind: RecordKind,
    name: &str,
    reason: Option<String>,
) -> AppResult<DomainRow> {
    let (domain, name) = (domain.to_owned(), name.to_owned());
    caller
        .change("domain.override_record", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Operator),
            async move |tx, tenant| {
                tx.audit.target_id = Some(domain.clone());
                let reason = crate::domain::values::reason(reason, "input.reason")?
                    .ok_or_else(|| AppError::bad_input("input.reason", "a reason is required"))?;
                let current = locked_domain(tx.conn, &tenant, &domain).await?;
                tx.audit.target_id = Some(current.name.clone());
                let record_name = super::expected::dns_name(&name);
                let mut results = current.results();
                let Some(result) = results.iter_mut().find(|r| {
                    r.kind == kind
                        && r.name == record_name
                        && matches!(r.status, RecordStatus::Missing | RecordStatus::Mismatch)
                }) else {
                    return Err(AppError::bad_input(
                        "input.name",
                        "the last check found no failing record of this type at this name",
                    ));
                };
                let accepted = RecordOverride {
                    domain_id: current.id,
                    kind,
                    name: record_name.clone(),
                    actual: result.actual.clone(),
                    reason: reason.clone(),
                    by_email: Some(tx.viewer.email.clone()),
                };
                result.status = RecordStatus::Ok;
                result.overridden = true;
                result.reason = Some(format!("overridden: {reason}"));
                tx.audit.details = json!({
                    "type": kind, "name": record_name, "actual": accepted.actual, "reason": reason,
                });
                diesel::insert_into(domain_record_overrides::table)
                    .values(&accepted)
                    .on_conflict((
                        domain_record_overrides::domain_id,
                        domain_record_overrides::kind,
                        domain_record_overrides::name,
                    ))
                    .do_update()
                    .set((
                        domain_record_overrides::actual.eq(&accepted.actual),
                        domain_record_overrides::reason.eq(&accepted.reason),
                        domain_record_overrides::by_email.eq(&accepted.by_email),
                        domain_record_overrides::created_at.eq(diesel::dsl::now),
                    ))
                    .execute(tx.conn)
                    .await?;
                Ok(diesel::update(domains::table.find(current.id))
                    .set(
                        domains::records
                            .eq(serde_json::to_value(&results).map_err(AppError::internal)?),
                    )
                    .returning(DomainRow::as_returning())
                    .get_result(tx.conn)
                    .await?)
            },
        )
        .await
}

/// `removeDomain`: asks Stalwart to destroy the domain, then deletes the row. Stalwart's
/// refusal while mailboxes, aliases or lists use it is `CONFLICT` naming them, and nothing is
/// deleted here; the primary domain is `CONFLICT` too. The Stalwart call runs inside the
/// change's transaction (the row is locked meanwhile), so a refusal leaves the row as it was.
pub async fn remove(
    caller: &Caller,
    stalwart: Option<Arc<dyn StalwartClient>>,
    tenant: &str,
    domain: &str,
) -> AppResult<DomainRow> {
    let domain = domain.to_owned();
    caller
        .change("domain.remove", "domain")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, tenant| {
                tx.audit.target_id = Some(domain.clone());
                let current = locked_domain(tx.conn, &tenant, &domain).await?;
                tx.audit.target_id = Some(current.name.clone());
                tx.audit.details = json!({
                    "name": current.name, "stalwartId": current.stalwart_id,
                });
                if current.is_primary {
                    return Err(AppError::Conflict(
                        "the primary domain cannot be removed; make another domain primary first"
                            .into(),
                    ));
                }
                if let (Some(id), Some(client)) = (&current.stalwart_id, &stalwart) {
                    client.delete_domain(id).await?;
                }
                diesel::delete(domains::table.find(current.id))
                    .execute(tx.conn)
                    .await?;
                Ok(current)
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rua_addresses_are_normalised_or_refused() {
        assert_eq!(
            rua_address(" mailto:DMARC@Bücher.Example ", "f").unwrap(),
            "DMARC@xn--bcher-kva.example"
        );
        for bad in [
            "",
            "x",
            "@a.example",
            "a@",
            "a b@c.example",
            "a,b@c.example",
            "a@localhost",
        ] {
            assert!(rua_address(bad, "f").is_err(), "{bad}");
        }
    }
}
