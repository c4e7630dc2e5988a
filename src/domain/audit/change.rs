//! The audited runner every mutation goes through.
//!
//! A mutation names its action, the access it needs ([`need`]) and an async closure with the
//! change itself:
//!
//! ```ignore
//! caller
//!     .change("tenant.suspend", "tenant")
//!     .run(need::tenant(&slug, TenantAccess::PartnerStaff), async move |tx, tenant| {
//!         /* validate, write, fill tx.audit.details */
//!     })
//!     .await
//! ```
//!
//! The runner opens a transaction, resolves the target and checks the access **before** the
//! closure runs, then writes the audit row in the same transaction as the change. If anything
//! fails, the change is rolled back and only the audit row is written: outcome `denied` for a
//! refusal (`NOT_FOUND` for what the caller may not see, `FORBIDDEN` for what they may see but
//! not change), `failure` otherwise, with the error code (and the field, for bad input) in
//! `details`. While an operator impersonates a user, an action of the policy's deny-list
//! ([`policy::DENIED_WHILE_IMPERSONATING`]) is refused here, after the target resolved and
//! before the change runs. A caller without valid credentials is refused before anything runs and is not
//! written to the log (anyone could fill it); the `platform_api_anonymous_mutations_total`
//! counter counts them.

use std::future::Future;
use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection, TransactionManager};

use super::{Actor, AuditEntry, Outcome, record};
use crate::auth::{Viewer, policy};
use crate::db::DbPool;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::Metrics;

/// Who is making a change: the pool, the audit actor and the caller (`None` without valid
/// credentials, so the runner refuses it in one place).
pub struct Caller {
    /// The database.
    pub pool: DbPool,
    /// User, request id and client IP, for the audit row.
    pub actor: Actor,
    /// The caller; `None` without valid credentials.
    pub viewer: Option<Arc<Viewer>>,
    /// Where anonymous attempts are counted.
    pub metrics: Option<Arc<Metrics>>,
}

impl Caller {
    /// A change with `action` on a `target_type` (see [`AuditEntry::new`]).
    pub fn change(&self, action: &'static str, target_type: &'static str) -> Change<'_> {
        Change {
            caller: self,
            entry: AuditEntry::new(action, target_type),
        }
    }
}

/// One audited change, before it runs.
pub struct Change<'a> {
    caller: &'a Caller,
    entry: AuditEntry,
}

/// What the change's closure works with: the transaction's connection, the audit entry to
/// fill (`details`, `target_id`) and the caller.
pub struct Tx<'r> {
    /// The connection, inside the change's transaction.
    pub conn: &'r mut AsyncPgConnection,
    /// The audit row being prepared.
    pub audit: &'r mut AuditEntry,
    /// The caller.
    pub viewer: &'r Viewer,
}

impl Tx<'_> {
    /// `FORBIDDEN` with `message`, recorded as `denied`.
    pub fn deny(&mut self, message: &str) -> AppError {
        self.audit.deny(AppError::Forbidden(message.to_owned()))
    }

    /// `Ok` when `allowed`, else [`Self::deny`].
    pub fn allow(&mut self, allowed: bool, message: &str) -> AppResult<()> {
        if allowed {
            Ok(())
        } else {
            Err(self.deny(message))
        }
    }
}

/// An access a change needs, and the target it resolves to once granted.
pub trait Need: Send {
    /// What the closure receives (a row, or `()`).
    type Target: Send;

    /// Finds the target and checks the caller's access to it, filling the audit entry's
    /// target, tenant and partner. A refusal is marked `denied` on `audit`.
    fn resolve(
        self,
        conn: &mut AsyncPgConnection,
        viewer: &Viewer,
        audit: &mut AuditEntry,
    ) -> impl Future<Output = AppResult<Self::Target>> + Send;
}

/// A change's closure: an async closure over the transaction and the target whose future is
/// `Send` (the same device diesel-async uses for its transactions).
pub trait ChangeFn<'r, X, T>: FnOnce(Tx<'r>, X) -> <Self as ChangeFn<'r, X, T>>::Fut {
    /// The closure's future.
    type Fut: Future<Output = AppResult<T>> + Send;
}

impl<'r, X, T, F, Fut> ChangeFn<'r, X, T> for F
where
    F: FnOnce(Tx<'r>, X) -> Fut,
    Fut: Future<Output = AppResult<T>> + Send,
{
    type Fut = Fut;
}

/// The `details` key of a change an operator made to a tenant whose network rule would
/// have refused the request (operators are exempt; the audit row says so, with why).
pub const EXEMPT: &str = "networkRuleExempt";

type Tm = <AsyncPgConnection as AsyncConnection>::TransactionManager;

impl Change<'_> {
    /// Names the target before it is resolved (e.g. the slug or key from the input), so a
    /// refusal is still recorded against it.
    pub fn target(mut self, id: impl Into<String>) -> Self {
        self.entry.target_id = Some(id.into());
        self
    }

    /// Runs `change` once `need` is granted; see the module docs.
    pub async fn run<N, T, F>(self, need: N, change: F) -> AppResult<T>
    where
        N: Need,
        T: Send,
        for<'r> F:
            AsyncFnOnce(Tx<'r>, N::Target) -> AppResult<T> + ChangeFn<'r, N::Target, T> + Send,
    {
        let Self { caller, mut entry } = self;
        execute(caller, &mut entry, need, change, true).await
    }

    /// For a change that *is* an upstream call whose answer the caller needs at once (so it
    /// cannot wait for a job): `check` runs like [`Self::run`]'s closure — target, access, the
    /// impersonation deny-list, refusals audited — in a transaction that is committed (or
    /// rolled back) **before** `act` runs, so no transaction stays open across the call.
    /// Then the audit row is written on its own: `success` with the details `act` returns
    /// merged in, or `failure` with its error code.
    pub async fn run_then<N, P, T, F, A>(self, need: N, check: F, act: A) -> AppResult<T>
    where
        N: Need,
        P: Send,
        T: Send,
        for<'r> F:
            AsyncFnOnce(Tx<'r>, N::Target) -> AppResult<P> + ChangeFn<'r, N::Target, P> + Send,
        A: AsyncFnOnce(P) -> AppResult<(T, serde_json::Value)>,
    {
        let Self { caller, mut entry } = self;
        let actor = &caller.actor;
        let checked = execute(caller, &mut entry, need, check, false).await?;
        let acted = act(checked).await;
        let mut conn = caller.pool.get().await?;
        match acted {
            Ok((value, details)) => {
                if let (Some(into), Some(from)) =
                    (entry.details.as_object_mut(), details.as_object())
                {
                    into.extend(from.clone());
                }
                entry.outcome = Outcome::Success;
                record(&mut conn, actor, &entry).await?;
                Ok(value)
            }
            Err(error) => {
                record_refusal(&mut conn, actor, &mut entry, &error).await;
                Err(error)
            }
        }
    }
}

/// The runner: refuses an anonymous caller, opens a transaction, resolves `need`, applies
/// the impersonation deny-list, runs `change`, writes the `success` row (when
/// `record_success`) and commits; on any error rolls back and writes the refusal's row.
async fn execute<N, T, F>(
    caller: &Caller,
    entry: &mut AuditEntry,
    need: N,
    change: F,
    record_success: bool,
) -> AppResult<T>
where
    N: Need,
    T: Send,
    for<'r> F: AsyncFnOnce(Tx<'r>, N::Target) -> AppResult<T> + ChangeFn<'r, N::Target, T> + Send,
{
    let Some(viewer) = caller.viewer.clone() else {
        if let Some(metrics) = &caller.metrics {
            metrics.record_anonymous_mutation();
        }
        tracing::info!(
            action = entry.action,
            "mutation refused: no valid credentials"
        );
        return Err(AppError::Unauthenticated);
    };
    let mut conn = caller.pool.get().await?;
    let conn: &mut AsyncPgConnection = &mut conn;
    let result = async {
        Tm::begin_transaction(conn).await?;
        let done = async {
            let target = need.resolve(conn, &viewer, entry).await?;
            // The change may replace `details`; the exemption noted by `need` stays.
            let exempt = entry.details.get(EXEMPT).cloned();
            if viewer.impersonation.is_some()
                && let Some(why) = policy::impersonation_refusal(entry.action)
            {
                return Err(entry.deny(AppError::Forbidden(why)));
            }
            let tx = Tx {
                conn: &mut *conn,
                audit: &mut *entry,
                viewer: &viewer,
            };
            let value = change(tx, target).await?;
            if let Some(exempt) = exempt
                && let Some(details) = entry.details.as_object_mut()
            {
                details.insert(EXEMPT.into(), exempt);
            }
            if record_success {
                entry.outcome = Outcome::Success;
                record(conn, &caller.actor, entry).await?;
            }
            Ok::<T, AppError>(value)
        }
        .await;
        match done {
            Ok(value) => {
                Tm::commit_transaction(conn).await?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = Tm::rollback_transaction(conn).await {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(error)
            }
        }
    }
    .await;
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            record_refusal(conn, &caller.actor, entry, &error).await;
            Err(error)
        }
    }
}

/// The audit row of a change that did not happen, written on its own.
async fn record_refusal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entry: &mut AuditEntry,
    error: &AppError,
) {
    let refused = matches!(
        error.code(),
        ErrorCode::Forbidden | ErrorCode::Unauthenticated
    );
    entry.outcome = if refused || entry.outcome == Outcome::Denied {
        Outcome::Denied
    } else {
        Outcome::Failure
    };
    if let Some(details) = entry.details.as_object_mut() {
        details.insert("error".into(), serde_json::json!(error.code().as_str()));
        if let AppError::BadUserInput { field, .. } = error {
            details.insert("field".into(), serde_json::json!(field));
        }
    }
    if let Err(audit_error) = record(conn, actor, entry).await {
        tracing::error!(error = %audit_error, action = entry.action, "could not write the audit row of a failed mutation");
    }
}

/// The accesses a change can need.
pub mod need {
    use super::{AppResult, AsyncPgConnection, AuditEntry, Need, Viewer};
    use crate::auth::{PartnerAccess, TenantAccess};
    use crate::domain::partners::{self, PartnerRow};
    use crate::domain::tenants::{self, TenantRow};
    use crate::error::AppError;

    /// Operator powers; the closure gets `()`.
    pub struct Operator;

    /// Operator powers.
    pub fn operator() -> Operator {
        Operator
    }

    impl Need for Operator {
        type Target = ();

        async fn resolve(
            self,
            _conn: &mut AsyncPgConnection,
            viewer: &Viewer,
            audit: &mut AuditEntry,
        ) -> AppResult<()> {
            if viewer.is_operator() {
                Ok(())
            } else {
                Err(audit.deny(AppError::Forbidden("operator access required".into())))
            }
        }
    }

    /// At least `level` on the tenant with `slug`; the closure gets its row.
    pub struct Tenant<'s> {
        slug: &'s str,
        level: TenantAccess,
        refusal: &'static str,
    }

    /// At least `level` on the tenant `slug`: `NOT_FOUND` when the caller may not see it,
    /// `FORBIDDEN` with a message naming who may when they may see it but not this.
    pub fn tenant(slug: &str, level: TenantAccess) -> Tenant<'_> {
        Tenant {
            slug,
            level,
            refusal: tenant_refusal(level),
        }
    }

    fn tenant_refusal(level: TenantAccess) -> &'static str {
        match level {
            TenantAccess::None | TenantAccess::Member => "tenant member access required",
            TenantAccess::Admin | TenantAccess::Owner => "tenant admin access required",
            TenantAccess::PartnerStaff | TenantAccess::PartnerAdmin => {
                "operators and the tenant's partner only"
            }
            TenantAccess::Operator => "operator access required",
        }
    }

    impl Need for Tenant<'_> {
        type Target = TenantRow;

        async fn resolve(
            self,
            conn: &mut AsyncPgConnection,
            viewer: &Viewer,
            audit: &mut AuditEntry,
        ) -> AppResult<TenantRow> {
            audit.target_id = Some(self.slug.to_owned());
            let Some((row, rule)) = tenants::by_slug_with_rule(conn, self.slug).await? else {
                return Err(audit.deny(AppError::NotFound { what: "tenant" }));
            };
            let access = viewer.tenant_access(row.tenant_ref());
            if !access.sees() {
                if let Some(why) = viewer.network_refusal(row.id) {
                    audit.tenant_id = Some(row.id);
                    audit.partner_id = row.partner_id;
                    return Err(audit.deny(AppError::Forbidden(why)));
                }
                return Err(audit.deny(AppError::NotFound { what: "tenant" }));
            }
            if viewer.is_operator()
                && let Some(why) = rule.refusal(&viewer.network)
            {
                // Operators are exempt from the tenant's network rule; the change says so.
                if let Some(details) = audit.details.as_object_mut() {
                    details.insert(super::EXEMPT.into(), serde_json::json!(why));
                }
            }
            audit.tenant_id = Some(row.id);
            audit.partner_id = row.partner_id;
            if access < self.level {
                return Err(audit.deny(AppError::Forbidden(self.refusal.to_owned())));
            }
            Ok(row)
        }
    }

    /// At least `level` on the partner with `slug`; the closure gets its row.
    pub struct Partner<'s> {
        slug: &'s str,
        level: PartnerAccess,
    }

    /// At least `level` on the partner `slug` (same answers as [`tenant`]).
    pub fn partner(slug: &str, level: PartnerAccess) -> Partner<'_> {
        Partner { slug, level }
    }

    impl Need for Partner<'_> {
        type Target = PartnerRow;

        async fn resolve(
            self,
            conn: &mut AsyncPgConnection,
            viewer: &Viewer,
            audit: &mut AuditEntry,
        ) -> AppResult<PartnerRow> {
            audit.target_id = Some(self.slug.to_owned());
            let Some(row) = partners::by_slug(conn, self.slug).await? else {
                return Err(audit.deny(AppError::NotFound { what: "partner" }));
            };
            let access = viewer.partner_access(row.id);
            if !access.sees() {
                return Err(audit.deny(AppError::NotFound { what: "partner" }));
            }
            audit.partner_id = Some(row.id);
            if access < self.level {
                let message = match self.level {
                    PartnerAccess::Operator => "operator access required",
                    _ => "the partner's staff only",
                };
                return Err(audit.deny(AppError::Forbidden(message.into())));
            }
            Ok(row)
        }
    }
}
