//! Tenant status moves: suspend (pending/active → suspended), resume (suspended → active) and
//! terminate (anything but terminated → terminated, final). Suspend and resume are for
//! operators and the tenant's partner; terminate for operators. The checks, the refusal
//! message and the audit details are the shared [`lifecycle`](crate::domain::lifecycle) ones.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{TenantRow, TenantStatus};
use crate::auth::TenantAccess;
use crate::db::schema::tenants;
use crate::domain::audit::change::{Caller, need};
use crate::domain::billing::subscription::{self, SubscriptionJob};
use crate::domain::lifecycle::{self, Lifecycle};
use crate::error::AppResult;
use crate::events::{self, Event};

/// A status move of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantMove {
    /// Out of service, data kept.
    Suspend,
    /// Back in service.
    Resume,
    /// Ended for good.
    Terminate,
}

impl Lifecycle for TenantMove {
    type Status = TenantStatus;
    const NOUN: &'static str = "tenant";
    const ALL: &'static [Self] = &[Self::Suspend, Self::Resume, Self::Terminate];

    fn action(self) -> &'static str {
        match self {
            Self::Suspend => "tenant.suspend",
            Self::Resume => "tenant.resume",
            Self::Terminate => "tenant.terminate",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Resume => "resumed",
            Self::Terminate => "terminated",
        }
    }

    fn from(self) -> &'static [TenantStatus] {
        use TenantStatus::*;
        match self {
            Self::Suspend => &[Pending, Active],
            Self::Resume => &[Suspended],
            Self::Terminate => &[Pending, Active, Suspended],
        }
    }

    fn to(self) -> TenantStatus {
        match self {
            Self::Suspend => TenantStatus::Suspended,
            Self::Resume => TenantStatus::Active,
            Self::Terminate => TenantStatus::Terminated,
        }
    }
}

impl TenantMove {
    /// Who may make this move.
    fn needs(self) -> TenantAccess {
        match self {
            Self::Suspend | Self::Resume => TenantAccess::PartnerStaff,
            Self::Terminate => TenantAccess::Operator,
        }
    }
}

/// `suspendTenant`, `resumeTenant` and `terminateTenant`.
pub async fn apply(
    caller: &Caller,
    slug: &str,
    movement: TenantMove,
    reason: Option<String>,
) -> AppResult<TenantRow> {
    caller
        .change(movement.action(), "tenant")
        .run(
            need::tenant(slug, movement.needs()),
            async move |tx, current| {
                let next =
                    lifecycle::plan(movement, current.status, reason, "input.tenant", tx.audit)?;
                let row = diesel::update(tenants::table.find(current.id))
                    .set(tenants::status.eq(next.to))
                    .returning(TenantRow::as_returning())
                    .get_result(tx.conn)
                    .await?;
                if next.to == TenantStatus::Terminated
                    && subscription::live_stripe_subscription(tx.conn, row.id)
                        .await?
                        .is_some()
                {
                    // Billing stops at the end of the period already paid for.
                    let cancel = SubscriptionJob::Cancel { tenant: row.id };
                    subscription::queue(tx.conn, &cancel).await?;
                }
                events::notify(tx.conn, &Event::TenantChanged(row.id.uuid())).await?;
                if movement == TenantMove::Terminate {
                    let queued = crate::domain::members::teardown::queue_for_tenant(
                        tx.conn,
                        row.id,
                        crate::jobs::JobsConfig::default().max_attempts,
                    )
                    .await?;
                    tx.audit.details["membersTornDown"] = serde_json::json!(queued);
                }
                Ok(row)
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(movement: TenantMove, from: TenantStatus) -> bool {
        movement.from().contains(&from)
    }

    #[test]
    fn the_state_machine() {
        use TenantMove::*;
        use TenantStatus::*;
        assert!(allowed(Suspend, Active) && allowed(Suspend, Pending));
        assert!(!allowed(Suspend, Suspended));
        assert!(allowed(Resume, Suspended) && !allowed(Resume, Active));
        assert!(
            !allowed(Resume, Terminated),
            "no resume of a terminated tenant"
        );
        assert!(allowed(Terminate, Suspended) && !allowed(Terminate, Terminated));
        assert_eq!(Terminate.to(), Terminated);
    }
}
