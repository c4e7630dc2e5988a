//! Email domains: a tenant's mail domains, what to publish in DNS for each, and the results of
//! the DNS checks. A domain is seen by whoever sees its tenant (the access policy's tenant
//! rule, also applied in SQL by [`visible`]). Changes are in [`changes`]; the expected records
//! in [`expected`]; names in [`name`]; the record rules and the hysteresis in [`check`]; DNS
//! checks and their storage in [`verify`].

pub mod changes;
pub mod check;
pub mod expected;
pub mod name;
pub mod verify;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::db::schema::{domain_record_overrides, domains};
use crate::domain::ids::{ByIds, DomainId, TenantId};
use crate::domain::page::fetch_limit;

crate::text_enum! {
    /// Where a domain's DNS stands.
    #[derive(async_graphql::Enum)]
    pub enum DomainStatus {
        /// Added; no check has passed yet.
        PendingVerification = "pending_verification",
        /// The last check passed every record.
        Verified = "verified",
        /// A verified domain whose last check failed a record (fewer than
        /// `DOMAIN_FAILING_AFTER` failures in a row).
        Degraded = "degraded",
        /// `DOMAIN_FAILING_AFTER` or more failed checks in a row.
        Failing = "failing",
    }
}

impl DomainStatus {
    /// Whether the domain counts in `domainsNeedingAttention`: everything but `VERIFIED`.
    pub fn needs_attention(self) -> bool {
        self != Self::Verified
    }
}

crate::text_enum! {
    /// The DMARC policy (`p=`) a domain publishes.
    #[derive(async_graphql::Enum)]
    pub enum DmarcPolicy {
        /// Monitor only.
        None = "none",
        /// Treat failing mail as suspicious.
        Quarantine = "quarantine",
        /// Reject failing mail.
        Reject = "reject",
    }
}

crate::text_enum! {
    /// What a DNS record is for.
    #[derive(async_graphql::Enum)]
    pub enum RecordKind {
        /// Mail exchanger at the domain.
        Mx = "mx",
        /// The SPF policy (TXT `v=spf1 …` at the domain).
        Spf = "spf",
        /// A DKIM public key (TXT at `<selector>._domainkey.<domain>`).
        Dkim = "dkim",
        /// The DMARC policy (TXT at `_dmarc.<domain>`).
        Dmarc = "dmarc",
        /// The ownership token (TXT at the domain).
        Ownership = "ownership",
    }
}

impl RecordKind {
    /// The DNS record type it is published as.
    pub fn rr_type(self) -> &'static str {
        match self {
            Self::Mx => "MX",
            _ => "TXT",
        }
    }
}

crate::text_enum! {
    /// The outcome of checking one record.
    #[derive(async_graphql::Enum)]
    pub enum RecordStatus {
        /// Published as expected.
        Ok = "ok",
        /// Nothing published where the record belongs.
        Missing = "missing",
        /// Something else (or something invalid) is published there.
        Mismatch = "mismatch",
        /// The resolvers did not answer (timeout, SERVFAIL): not counted either way.
        Unknown = "unknown",
    }
}

/// A record Stalwart says to publish (from the domain's `dnsZoneFile`), kept in
/// `domains.published`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRecord {
    /// What it is for (MX, SPF or DKIM).
    pub kind: RecordKind,
    /// Owner name, lower case, without the trailing dot.
    pub name: String,
    /// The record data (TXT strings joined).
    pub value: String,
}

/// The result of checking one record, kept in `domains.records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// What it is for.
    pub kind: RecordKind,
    /// Owner name.
    pub name: String,
    /// What should be published.
    pub expected: String,
    /// What the resolvers answered (TXT strings joined; several answers one per line).
    pub actual: Option<String>,
    /// The outcome.
    pub status: RecordStatus,
    /// Why, when not OK (e.g. "two SPF records: permerror"), or the override's reason.
    pub reason: Option<String>,
    /// OK only because an operator accepted this value ([`RecordOverride`]).
    #[serde(default)]
    pub overridden: bool,
}

/// An operator's acceptance of a failing record (`domain_record_overrides`): the record counts
/// as OK while its actual value is the one accepted.
#[derive(Queryable, Selectable, Insertable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = domain_record_overrides)]
pub struct RecordOverride {
    /// The domain.
    pub domain_id: DomainId,
    /// What the record is for.
    pub kind: RecordKind,
    /// Owner name.
    pub name: String,
    /// The value accepted (`None`: accepted as missing).
    pub actual: Option<String>,
    /// Why (e.g. a known resolver quirk).
    pub reason: String,
    /// Who accepted it.
    pub by_email: Option<String>,
}

/// The overrides of these domains, in one statement.
pub async fn overrides_of(
    conn: &mut AsyncPgConnection,
    ids: &[DomainId],
) -> QueryResult<Vec<RecordOverride>> {
    domain_record_overrides::table
        .filter(domain_record_overrides::domain_id.eq_any(ids))
        .select(RecordOverride::as_select())
        .load(conn)
        .await
}

/// The `domains` columns the graph reads.
#[derive(Queryable, Selectable, QueryableByName, Debug, Clone)]
#[diesel(table_name = domains)]
pub struct DomainRow {
    /// Primary key.
    pub id: DomainId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// ASCII (punycode) name.
    pub name: String,
    /// Stalwart's id, once the ensure job ran.
    pub stalwart_id: Option<String>,
    /// The tenant's primary domain.
    pub is_primary: bool,
    /// DMARC `p=`.
    pub dmarc_policy: DmarcPolicy,
    /// DMARC `rua` addresses (JSON array of strings).
    pub dmarc_rua: serde_json::Value,
    /// The ownership TXT value.
    pub ownership_token: String,
    /// Status.
    pub status: DomainStatus,
    /// What Stalwart says to publish.
    pub published: serde_json::Value,
    /// The last check's results.
    pub records: serde_json::Value,
    /// When it was last checked.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// When it is checked next.
    pub next_check_at: DateTime<Utc>,
    /// Failed checks in a row.
    pub consecutive_failures: i32,
    /// Added.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl DomainRow {
    /// The DMARC report addresses.
    pub fn rua(&self) -> Vec<String> {
        serde_json::from_value(self.dmarc_rua.clone()).unwrap_or_default()
    }

    /// The records Stalwart says to publish.
    pub fn published(&self) -> Vec<PublishedRecord> {
        serde_json::from_value(self.published.clone()).unwrap_or_default()
    }

    /// The last check's results (empty before the first check).
    pub fn results(&self) -> Vec<RecordResult> {
        serde_json::from_value(self.records.clone()).unwrap_or_default()
    }
}

impl ByIds for DomainRow {
    type Id = DomainId;

    fn id(&self) -> DomainId {
        self.id
    }

    async fn by_ids(conn: &mut AsyncPgConnection, ids: &[DomainId]) -> QueryResult<Vec<Self>> {
        domains::table
            .filter(domains::id.eq_any(ids))
            .select(Self::as_select())
            .load(conn)
            .await
    }
}

/// The domain `name` of tenant `tenant`, if it has it.
pub async fn of_tenant_by_name(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    name: &str,
) -> QueryResult<Option<DomainRow>> {
    domains::table
        .filter(domains::tenant_id.eq(tenant).and(domains::name.eq(name)))
        .select(DomainRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The first `limit + 1` domains (by name, after `after`) of each tenant, in one statement.
pub async fn pages_by_tenant(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
    after: Option<&str>,
    limit: usize,
) -> QueryResult<Vec<DomainRow>> {
    crate::db::cached(
        diesel::sql_query(
            "SELECT id, tenant_id, name, stalwart_id, is_primary, dmarc_policy, dmarc_rua,
                    ownership_token, status, published, records, last_checked_at, next_check_at,
                    consecutive_failures, created_at, updated_at
               FROM (SELECT d.*, row_number() OVER (PARTITION BY d.tenant_id ORDER BY d.name) AS rn
                       FROM domains d
                      WHERE d.tenant_id = ANY($1) AND ($2::text IS NULL OR d.name > $2)) ranked
              WHERE rn <= $3
              ORDER BY tenant_id, name",
        )
        .bind::<Array<SqlUuid>, _>(tenant_ids)
        .bind::<Nullable<Text>, _>(after)
        .bind::<BigInt, _>(fetch_limit(limit)),
    )
    .load(conn)
    .await
}

/// Domains per tenant, for each of `tenant_ids`.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<(TenantId, i64)>> {
    domains::table
        .filter(domains::tenant_id.eq_any(tenant_ids))
        .group_by(domains::tenant_id)
        .select((domains::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// Domains that need attention (any status but `verified`) per tenant, for each of
/// `tenant_ids`, in one statement.
pub async fn needing_attention(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<(TenantId, i64)>> {
    domains::table
        .filter(domains::tenant_id.eq_any(tenant_ids))
        .filter(domains::status.ne(DomainStatus::Verified))
        .group_by(domains::tenant_id)
        .select((domains::tenant_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// The domains with these ids that `scope` may see (whoever sees the tenant), in one
/// statement.
pub async fn visible(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    ids: &[DomainId],
) -> QueryResult<Vec<DomainRow>> {
    let (all, member_of, staff_of) = match scope {
        Scope::All => (true, Vec::new(), Vec::new()),
        Scope::Limited(sets) => (false, sets.member_of.clone(), sets.staff_of.clone()),
    };
    diesel::sql_query(
        "SELECT d.id, d.tenant_id, d.name, d.stalwart_id, d.is_primary, d.dmarc_policy,
                d.dmarc_rua, d.ownership_token, d.status, d.published, d.records,
                d.last_checked_at, d.next_check_at, d.consecutive_failures, d.created_at,
                d.updated_at
           FROM domains d JOIN tenants t ON t.id = d.tenant_id
          WHERE d.id = ANY($1)
            AND ($2 OR d.tenant_id = ANY($3) OR t.partner_id = ANY($4))",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Bool, _>(all)
    .bind::<Array<SqlUuid>, _>(member_of)
    .bind::<Array<SqlUuid>, _>(staff_of)
    .load(conn)
    .await
}
