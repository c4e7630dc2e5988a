//! Tenant health: the rules ([`rules`], one file, pure) applied to what the server knows of
//! each tenant, gathered for any number of tenants in a fixed number of statements
//! ([`for_tenants`]: one for the tenant's own state, one for its seats through billing's
//! `limits_for`, one for its MFA coverage from the stored enrollment snapshot, whatever the
//! number of tenants).

pub mod rules;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::billing::invoices::InvoiceStatus;
use crate::domain::domains::DomainStatus;
use crate::domain::ids::TenantId;
use crate::domain::members::limits::limits_for;
use crate::domain::provisioning::StepStatus;
use crate::domain::tenants::TenantStatus;
use crate::error::AppResult;
pub use rules::{Band, Health, HealthInput, MfaCoverage, Reason};

/// A tenant's health and when it was computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantHealth {
    /// Score, band and reasons.
    pub health: Health,
    /// When the inputs were read.
    pub computed_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct InputRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: TenantId,
    #[diesel(sql_type = Text)]
    tenant_status: TenantStatus,
    #[diesel(sql_type = Nullable<Text>)]
    subscription_status: Option<String>,
    #[diesel(sql_type = BigInt)]
    overdue_invoices: i64,
    #[diesel(sql_type = BigInt)]
    uncollectible_invoices: i64,
    #[diesel(sql_type = BigInt)]
    steps_in_error: i64,
    #[diesel(sql_type = BigInt)]
    degraded_domains: i64,
    #[diesel(sql_type = BigInt)]
    failing_domains: i64,
    #[diesel(sql_type = BigInt)]
    seats_used: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    computed_at: DateTime<Utc>,
}

/// The statement, with the statuses spelled by their enums.
static INPUTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
SELECT t.id AS tenant_id, t.status AS tenant_status, s.status AS subscription_status,
       (SELECT count(*) FROM invoices i
         WHERE i.tenant_id = t.id AND i.status = '{open}' AND i.due_date < now()) AS overdue_invoices,
       (SELECT count(*) FROM invoices i
         WHERE i.tenant_id = t.id AND i.status = '{uncollectible}') AS uncollectible_invoices,
       (SELECT count(*) FROM provisioning_steps ps
         WHERE ps.tenant_id = t.id AND ps.status = '{error}')
     + (SELECT count(*) FROM member_steps ms JOIN memberships m ON m.id = ms.membership_id
         WHERE m.tenant_id = t.id AND ms.status = '{error}') AS steps_in_error,
       (SELECT count(*) FROM domains d
         WHERE d.tenant_id = t.id AND d.status = '{degraded}') AS degraded_domains,
       (SELECT count(*) FROM domains d
         WHERE d.tenant_id = t.id AND d.status = '{failing}') AS failing_domains,
       (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id) AS seats_used,
       now() AS computed_at
  FROM tenants t
  LEFT JOIN subscriptions s ON s.tenant_id = t.id
 WHERE t.id = ANY($1)",
        open = InvoiceStatus::Open,
        uncollectible = InvoiceStatus::Uncollectible,
        error = StepStatus::Error,
        degraded = DomainStatus::Degraded,
        failing = DomainStatus::Failing,
    )
});

/// The MFA coverage of each tenant against its policy, from the stored enrollment snapshot
/// (one statement for all tenants; see
/// [`crate::domain::security::mfa_snapshot::coverage`]). Only members whose enrollment is
/// known count; a tenant with none is absent, and the MFA rule is skipped for it.
pub async fn mfa_coverage(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> AppResult<HashMap<TenantId, MfaCoverage>> {
    Ok(crate::domain::security::mfa_snapshot::coverage(conn, tenant_ids).await?)
}

/// The health of each tenant in `tenant_ids` (absent: no such tenant). The caller decides who
/// may see it.
pub async fn for_tenants(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> AppResult<HashMap<TenantId, TenantHealth>> {
    if tenant_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<uuid::Uuid> = tenant_ids.iter().map(|t| t.0).collect();
    let rows: Vec<InputRow> = diesel::sql_query(INPUTS.as_str())
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)
        .await?;
    let limits = limits_for(conn, tenant_ids).await?;
    let mfa = mfa_coverage(conn, tenant_ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let input = HealthInput {
                tenant_status: r.tenant_status,
                subscription_status: r.subscription_status,
                overdue_invoices: r.overdue_invoices,
                uncollectible_invoices: r.uncollectible_invoices,
                steps_in_error: r.steps_in_error,
                degraded_domains: r.degraded_domains,
                failing_domains: r.failing_domains,
                seats_used: r.seats_used,
                seats_limit: limits
                    .get(&r.tenant_id)
                    .map(|l| i64::from(l.seats_included)),
                mfa: mfa.get(&r.tenant_id).copied(),
            };
            let health = TenantHealth {
                health: rules::evaluate(&input),
                computed_at: r.computed_at,
            };
            (r.tenant_id, health)
        })
        .collect())
}
