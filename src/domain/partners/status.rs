//! Partner status moves (operators): suspend (active → suspended), resume (suspended →
//! active) and terminate (active/suspended → terminated, final). Partners are never deleted;
//! terminating one **detaches** its tenants: they stay, become direct customers (`partner_id`
//! null), and the partner's staff lose access to them; the audit row lists them. The checks,
//! the refusal message and the audit details are the shared
//! [`lifecycle`](crate::domain::lifecycle) ones.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::changes::partner_by_slug;
use super::{PartnerRow, PartnerStatus};
use crate::db::schema::{partners, tenants};
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::{PartnerId, TenantId};
use crate::domain::lifecycle::{self, Lifecycle};
use crate::error::AppResult;
use crate::events::{self, Event};

/// A status move of a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerMove {
    /// Barred for now.
    Suspend,
    /// Back in business.
    Resume,
    /// Ended for good; its tenants are detached.
    Terminate,
}

impl Lifecycle for PartnerMove {
    type Status = PartnerStatus;
    const NOUN: &'static str = "partner";
    const ALL: &'static [Self] = &[Self::Suspend, Self::Resume, Self::Terminate];

    fn action(self) -> &'static str {
        match self {
            Self::Suspend => "partner.suspend",
            Self::Resume => "partner.resume",
            Self::Terminate => "partner.terminate",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Resume => "resumed",
            Self::Terminate => "terminated",
        }
    }

    fn from(self) -> &'static [PartnerStatus] {
        use PartnerStatus::*;
        match self {
            Self::Suspend => &[Active],
            Self::Resume => &[Suspended],
            Self::Terminate => &[Active, Suspended],
        }
    }

    fn to(self) -> PartnerStatus {
        match self {
            Self::Suspend => PartnerStatus::Suspended,
            Self::Resume => PartnerStatus::Active,
            Self::Terminate => PartnerStatus::Terminated,
        }
    }
}

/// `suspendPartner`, `resumePartner` and `terminatePartner` (operators).
pub async fn apply(
    caller: &Caller,
    slug: &str,
    movement: PartnerMove,
    reason: Option<String>,
) -> AppResult<PartnerRow> {
    caller
        .change(movement.action(), "partner")
        .target(slug)
        .run(need::operator(), async move |tx, ()| {
            let current = partner_by_slug(tx.conn, slug, tx.audit).await?;
            let next =
                lifecycle::plan(movement, current.status, reason, "input.partner", tx.audit)?;
            if movement == PartnerMove::Terminate {
                let slugs = detach_tenants(tx.conn, current.id).await?;
                tx.audit.details["detachedTenants"] = json!(slugs);
            }
            Ok(diesel::update(partners::table.find(current.id))
                .set(partners::status.eq(next.to))
                .returning(PartnerRow::as_returning())
                .get_result(tx.conn)
                .await?)
        })
        .await
}

/// Makes the partner's tenants direct customers; returns their slugs.
async fn detach_tenants(
    conn: &mut diesel_async::AsyncPgConnection,
    partner: PartnerId,
) -> AppResult<Vec<String>> {
    let detached: Vec<(TenantId, String)> =
        diesel::update(tenants::table.filter(tenants::partner_id.eq(partner)))
            .set(tenants::partner_id.eq(None::<PartnerId>))
            .returning((tenants::id, tenants::slug))
            .get_results(conn)
            .await?;
    for (id, _) in &detached {
        events::notify(conn, &Event::TenantChanged(id.uuid())).await?;
    }
    Ok(detached.into_iter().map(|(_, slug)| slug).collect())
}
