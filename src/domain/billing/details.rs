//! A tenant's billing details (company, VAT id, country, billing e-mail: only those) and
//! `updateBillingDetails` (`billing.update_details`): tenant owners and admins (and, above
//! them, the partner's staff and operators) change them; the VAT id is held to its country's
//! format ([`super::vat`]); a job pushes them to the Stripe customer. The audit row names the
//! fields that changed, never their values.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use super::subscription::{self, SubscriptionJob};
use super::vat::{self, VatError};
use crate::auth::TenantAccess;
use crate::db::schema::billing_details;
use crate::domain::audit::change::{Caller, need};
use crate::domain::ids::TenantId;
use crate::domain::members::create::MemberEmail;
use crate::domain::patch::Patch;
use crate::error::{AppError, AppResult};

/// A `billing_details` row.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = billing_details)]
pub struct BillingDetailsRow {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Company name on invoices.
    pub company: Option<String>,
    /// VAT id, normalised with its country prefix.
    pub vat_id: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Where invoices are sent.
    pub email: Option<String>,
}

impl BillingDetailsRow {
    /// No details yet.
    pub fn empty(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            company: None,
            vat_id: None,
            country: None,
            email: None,
        }
    }
}

/// The billing details of `tenant_ids` (tenants without any have no row).
pub async fn by_tenants(
    conn: &mut AsyncPgConnection,
    tenant_ids: &[TenantId],
) -> QueryResult<Vec<BillingDetailsRow>> {
    billing_details::table
        .filter(billing_details::tenant_id.eq_any(tenant_ids))
        .select(BillingDetailsRow::as_select())
        .load(conn)
        .await
}

/// What `updateBillingDetails` may change: each field kept, cleared or set.
#[derive(Debug, Clone, Default)]
pub struct DetailsPatch {
    /// Company name (1–200 characters).
    pub company: Patch<String>,
    /// VAT id (needs a country; checked against its format).
    pub vat_id: Patch<String>,
    /// Country, ISO 3166-1 alpha-2.
    pub country: Patch<String>,
    /// Billing e-mail address.
    pub email: Patch<String>,
}

fn company(raw: String) -> AppResult<String> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if (1..=200).contains(&length) && !trimmed.chars().any(char::is_control) {
        Ok(trimmed.to_owned())
    } else {
        Err(AppError::bad_input(
            "input.company",
            "a company name is 1 to 200 characters",
        ))
    }
}

fn country(raw: String) -> AppResult<String> {
    let code = raw.trim().to_ascii_uppercase();
    // An assigned ISO 3166-1 alpha-2 code (the security area's list), or XI: Northern
    // Ireland's VAT prefix, which VAT ids there are issued under.
    if crate::domain::security::countries::is_assigned(&code) || code == "XI" {
        Ok(code)
    } else {
        Err(AppError::bad_input(
            "input.country",
            "a country is a two-letter ISO 3166-1 code, e.g. DE",
        ))
    }
}

fn email(raw: String) -> AppResult<String> {
    let parsed = MemberEmail::parse(&raw, "input.email")?;
    Ok(format!("{}@{}", parsed.local, parsed.domain.as_str()))
}

/// The details after `patch`, validated; the VAT id is checked against the resulting
/// country (a VAT id kept while the country changes is checked again).
fn apply(current: &BillingDetailsRow, patch: DetailsPatch) -> AppResult<BillingDetailsRow> {
    let mut next = current.clone();
    fn set<T>(slot: &mut Option<T>, patch: Patch<T>) {
        match patch {
            Patch::Keep => {}
            Patch::Clear => *slot = None,
            Patch::Set(v) => *slot = Some(v),
        }
    }
    set(&mut next.company, patch.company.try_map(company)?);
    set(&mut next.country, patch.country.try_map(country)?);
    set(&mut next.email, patch.email.try_map(email)?);
    set(&mut next.vat_id, patch.vat_id);
    if let Some(raw) = next.vat_id.take() {
        let Some(country) = next.country.as_deref() else {
            return Err(AppError::bad_input(
                "input.vatId",
                "a VAT id needs the country it was issued in",
            ));
        };
        match vat::normalise(country, &raw) {
            Ok(normal) => next.vat_id = Some(normal),
            Err(VatError::UnknownCountry) => {
                return Err(AppError::bad_input(
                    "input.vatId",
                    format!("VAT ids are not taken for {country} (EU countries, XI, GB, CH)"),
                ));
            }
            Err(VatError::Format) => {
                return Err(AppError::bad_input(
                    "input.vatId",
                    format!("not a VAT id of {country}"),
                ));
            }
        }
    }
    Ok(next)
}

/// The names of the fields that differ, in input order (what the audit row records).
fn changed(before: &BillingDetailsRow, after: &BillingDetailsRow) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if before.company != after.company {
        fields.push("company");
    }
    if before.vat_id != after.vat_id {
        fields.push("vatId");
    }
    if before.country != after.country {
        fields.push("country");
    }
    if before.email != after.email {
        fields.push("email");
    }
    fields
}

/// Changes `tenant`'s billing details and queues their push to Stripe; returns the tenant and
/// its details. `configured` says whether billing runs (without it: `CONFLICT`, nothing
/// written).
pub async fn update(
    caller: &Caller,
    tenant: &str,
    patch: DetailsPatch,
    configured: bool,
) -> AppResult<(crate::domain::tenants::TenantRow, BillingDetailsRow)> {
    caller
        .change("billing.update_details", "tenant")
        .run(
            need::tenant(tenant, TenantAccess::Admin),
            async move |tx, row| {
                let current = by_tenants(tx.conn, &[row.id])
                    .await?
                    .pop()
                    .unwrap_or_else(|| BillingDetailsRow::empty(row.id));
                let next = apply(&current, patch)?;
                if !configured {
                    return Err(AppError::Conflict("billing is not configured".into()));
                }
                let fields = changed(&current, &next);
                tx.audit.details = json!({ "changed": fields });
                if fields.is_empty() {
                    return Ok((row, next));
                }
                diesel::insert_into(billing_details::table)
                    .values((
                        billing_details::tenant_id.eq(row.id),
                        billing_details::company.eq(&next.company),
                        billing_details::vat_id.eq(&next.vat_id),
                        billing_details::country.eq(&next.country),
                        billing_details::email.eq(&next.email),
                    ))
                    .on_conflict(billing_details::tenant_id)
                    .do_update()
                    .set((
                        billing_details::company.eq(&next.company),
                        billing_details::vat_id.eq(&next.vat_id),
                        billing_details::country.eq(&next.country),
                        billing_details::email.eq(&next.email),
                    ))
                    .execute(tx.conn)
                    .await?;
                // Without a Stripe customer yet the job finds nothing to push; the customer
                // gets the details when it is created on demand.
                let push = SubscriptionJob::PushCustomerDetails { tenant: row.id };
                subscription::queue(tx.conn, &push).await?;
                Ok((row, next))
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> BillingDetailsRow {
        BillingDetailsRow::empty(TenantId(uuid::Uuid::nil()))
    }

    fn field(err: AppError) -> String {
        match err {
            AppError::BadUserInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_country_is_an_assigned_code() {
        assert_eq!(country(" de ".into()).unwrap(), "DE");
        assert_eq!(country("xi".into()).unwrap(), "XI");
        for bad in ["ZZ", "D", "DEU", "", "1A"] {
            assert!(country(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_vat_id_is_checked_against_the_country() {
        let patch = DetailsPatch {
            country: Patch::Set("de".into()),
            vat_id: Patch::Set("de 123456789".into()),
            ..DetailsPatch::default()
        };
        let next = apply(&empty(), patch).unwrap();
        assert_eq!(next.vat_id.as_deref(), Some("DE123456789"));
        assert_eq!(next.country.as_deref(), Some("DE"));
        // Moving the country re-checks the kept VAT id.
        let moved = DetailsPatch {
            country: Patch::Set("FR".into()),
            ..DetailsPatch::default()
        };
        assert_eq!(field(apply(&next, moved).unwrap_err()), "input.vatId");
        let orphan = DetailsPatch {
            vat_id: Patch::Set("DE123456789".into()),
            ..DetailsPatch::default()
        };
        assert_eq!(field(apply(&empty(), orphan).unwrap_err()), "input.vatId");
    }

    #[test]
    fn fields_are_validated_and_changes_named() {
        for (patch, bad) in [
            (
                DetailsPatch {
                    company: Patch::Set("  ".into()),
                    ..DetailsPatch::default()
                },
                "input.company",
            ),
            (
                DetailsPatch {
                    country: Patch::Set("DEU".into()),
                    ..DetailsPatch::default()
                },
                "input.country",
            ),
            (
                DetailsPatch {
                    email: Patch::Set("nobody".into()),
                    ..DetailsPatch::default()
                },
                "input.email",
            ),
        ] {
            assert_eq!(field(apply(&empty(), patch).unwrap_err()), bad);
        }
        let patch = DetailsPatch {
            company: Patch::Set(" ACME GmbH ".into()),
            email: Patch::Set("Billing@Example.COM".into()),
            ..DetailsPatch::default()
        };
        let next = apply(&empty(), patch).unwrap();
        assert_eq!(next.company.as_deref(), Some("ACME GmbH"));
        assert_eq!(next.email.as_deref(), Some("billing@example.com"));
        assert_eq!(changed(&empty(), &next), ["company", "email"]);
        assert!(changed(&next, &next).is_empty());
    }
}
