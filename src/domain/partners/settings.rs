//! `updatePartnerSettings`: a partner's admins edit their own partner's name, domain, contact
//! and billing details (margin and status stay with operators, through `updatePartner` and
//! the status moves). The audit row names the fields changed, never their values (contact
//! and billing details are personal data).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::{PartnerRow, PartnerStatus};
use crate::auth::PartnerAccess;
use crate::db::schema::partners;
use crate::domain::audit::change::{Caller, need};
use crate::domain::patch::Patch;
use crate::domain::values::{DomainName, JsonObject, Name};
use crate::error::{AppError, AppResult};

/// Input of `updatePartnerSettings`.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    /// Slug of the partner.
    pub partner: String,
    /// New name.
    pub name: Option<String>,
    /// New domain, or clear it.
    pub domain: Patch<String>,
    /// New contact details (replaces the object).
    pub contact_info: Option<serde_json::Value>,
    /// New billing details (replaces the object).
    pub billing_info: Option<serde_json::Value>,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = partners)]
struct SettingsChangeset {
    name: Option<String>,
    domain: Option<Option<String>>,
    contact_info: Option<serde_json::Value>,
    billing_info: Option<serde_json::Value>,
}

/// `updatePartnerSettings` (the partner's admins and operators).
pub async fn update(caller: &Caller, input: SettingsUpdate) -> AppResult<PartnerRow> {
    let slug = input.partner.clone();
    caller
        .change("partner.update_settings", "partner")
        .run(
            need::partner(&slug, PartnerAccess::Admin),
            async move |tx, current| {
                let mut changes = SettingsChangeset::default();
                let mut fields: Vec<&str> = Vec::new();
                if let Some(name) = &input.name {
                    let name = Name::parse(name, "input.name")?;
                    if name.as_str() != current.name {
                        fields.push("name");
                    }
                    changes.name = Some(name.as_str().to_owned());
                }
                changes.domain = input
                    .domain
                    .clone()
                    .try_map(|d| {
                        DomainName::parse(&d, "input.domain").map(|d| d.as_str().to_owned())
                    })?
                    .into_change();
                if changes
                    .domain
                    .as_ref()
                    .is_some_and(|d| *d != current.domain)
                {
                    fields.push("domain");
                }
                if let Some(c) = input.contact_info.clone() {
                    let c = JsonObject::parse(c, "input.contactInfo")?;
                    if *c.value() != current.contact_info {
                        fields.push("contactInfo");
                    }
                    changes.contact_info = Some(c.value().clone());
                }
                if let Some(b) = input.billing_info.clone() {
                    let b = JsonObject::parse(b, "input.billingInfo")?;
                    if *b.value() != current.billing_info {
                        fields.push("billingInfo");
                    }
                    changes.billing_info = Some(b.value().clone());
                }
                tx.audit.details = json!({ "fields": fields });
                if input.name.is_none()
                    && !input.domain.changes()
                    && input.contact_info.is_none()
                    && input.billing_info.is_none()
                {
                    return Err(AppError::bad_input("input", "nothing to change"));
                }
                if current.status == PartnerStatus::Terminated {
                    return Err(AppError::bad_input(
                        "input.partner",
                        "the partner is terminated, so it cannot be changed",
                    ));
                }
                Ok(diesel::update(partners::table.find(current.id))
                    .set((&changes, partners::updated_at.eq(diesel::dsl::now)))
                    .returning(PartnerRow::as_returning())
                    .get_result(tx.conn)
                    .await?)
            },
        )
        .await
}
