//! Changes to feature flags (operators only; each audited).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::{FlagRow, by_key};
use crate::db::schema::{feature_flags, partners, tenants};
use crate::domain::audit::change::{Caller, need};
use crate::domain::flags::rules::{Matcher, Rule};
use crate::error::{AppError, AppResult};
use crate::events::{self, Event};

/// One rule as a client sends it: exactly one matcher and the value.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    /// Tenant slugs.
    pub tenants: Option<Vec<String>>,
    /// A partner slug.
    pub partner: Option<String>,
    /// Plan names.
    pub plans: Option<Vec<String>>,
    /// A percentage 0–100 (two decimals at most).
    pub percentage: Option<f64>,
    /// The value for matching tenants.
    pub value: bool,
}

/// Validates `key`.
pub fn parse_key(raw: &str, field: &str) -> AppResult<String> {
    let ok = (2..=64).contains(&raw.len())
        && raw.as_bytes()[0].is_ascii_lowercase()
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::bad_input(
            field,
            "a key is 2–64 of a-z, 0-9 and '_', starting with a letter",
        ))
    }
}

fn parse_description(raw: Option<&str>) -> AppResult<String> {
    let d = raw.unwrap_or("").trim();
    if d.chars().count() > 500 {
        return Err(AppError::bad_input(
            "input.description",
            "at most 500 characters",
        ));
    }
    Ok(d.to_owned())
}

/// Turns client rules into stored rules, resolving slugs (unknown ones are `BAD_USER_INPUT`).
async fn parse_rules(conn: &mut AsyncPgConnection, inputs: &[RuleInput]) -> AppResult<Vec<Rule>> {
    if inputs.len() > 50 {
        return Err(AppError::bad_input("input.rules", "at most 50 rules"));
    }
    let mut rules = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let field = format!("input.rules.{i}");
        let given = [
            input.tenants.is_some(),
            input.partner.is_some(),
            input.plans.is_some(),
            input.percentage.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(AppError::bad_input(
                field,
                "a rule names exactly one of tenants, partner, plans, percentage",
            ));
        }
        let matcher = if let Some(slugs) = &input.tenants {
            if slugs.is_empty() || slugs.len() > 1000 {
                return Err(AppError::bad_input(
                    format!("{field}.tenants"),
                    "1 to 1000 tenant slugs",
                ));
            }
            let ids: Vec<(Uuid, String)> = tenants::table
                .filter(tenants::slug.eq_any(slugs))
                .select((tenants::id, tenants::slug))
                .load(conn)
                .await?;
            if let Some(missing) = slugs
                .iter()
                .find(|s| !ids.iter().any(|(_, slug)| slug == *s))
            {
                return Err(AppError::bad_input(
                    format!("{field}.tenants"),
                    format!("no tenant {missing:?}"),
                ));
            }
            Matcher::Tenants {
                tenant_ids: ids.into_iter().map(|(id, _)| id).collect(),
            }
        } else if let Some(slug) = &input.partner {
            let id: Uuid = partners::table
                .filter(partners::slug.eq(slug))
                .select(partners::id)
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| {
                    AppError::bad_input(format!("{field}.partner"), "no partner has this slug")
                })?;
            Matcher::Partner { partner_id: id }
        } else if let Some(plans) = &input.plans {
            let ok = !plans.is_empty()
                && plans
                    .iter()
                    .all(|p| crate::domain::values::Plan::parse(p, "").is_ok());
            if !ok {
                return Err(AppError::bad_input(
                    format!("{field}.plans"),
                    "one or more valid plan names",
                ));
            }
            Matcher::Plans {
                plans: plans.clone(),
            }
        } else {
            let percent = input.percentage.unwrap_or_default();
            let bp = (percent * 100.0).round();
            if !(0.0..=100.0).contains(&percent) || (percent * 100.0 - bp).abs() > 1e-6 {
                return Err(AppError::bad_input(
                    format!("{field}.percentage"),
                    "0 to 100, two decimals at most",
                ));
            }
            Matcher::Percentage {
                basis_points: bp as u16,
            }
        };
        rules.push(Rule {
            matcher,
            value: input.value,
        });
    }
    Ok(rules)
}

/// Input of `createFeatureFlag`.
#[derive(Debug, Clone, Default)]
pub struct NewFlag {
    /// Key.
    pub key: String,
    /// Description.
    pub description: Option<String>,
    /// Default value.
    pub default_value: bool,
    /// On (default) or off.
    pub enabled: Option<bool>,
    /// Ordered rules.
    pub rules: Vec<RuleInput>,
}

/// Input of `updateFeatureFlag`; the rules, when given, replace the old ones as a whole.
#[derive(Debug, Clone, Default)]
pub struct FlagUpdate {
    /// Key of the flag to change.
    pub key: String,
    /// New description.
    pub description: Option<String>,
    /// New default.
    pub default_value: Option<bool>,
    /// Switch on or off.
    pub enabled: Option<bool>,
    /// New rules.
    pub rules: Option<Vec<RuleInput>>,
}

/// `createFeatureFlag`.
pub async fn create(caller: &Caller, input: NewFlag) -> AppResult<FlagRow> {
    caller
        .change("feature_flag.create", "feature_flag")
        .target(input.key.clone())
        .run(need::operator(), async move |tx, ()| {
                let conn = tx.conn;
            let key = parse_key(&input.key, "input.key")?;
            let description = parse_description(input.description.as_deref())?;
            let rules = parse_rules(conn, &input.rules).await?;
            let rules_json = serde_json::to_value(&rules).map_err(AppError::internal)?;
            tx.audit.details = json!({ "defaultValue": input.default_value, "enabled": input.enabled.unwrap_or(true), "rules": rules_json });
            let row = diesel::insert_into(feature_flags::table)
                .values((
                    feature_flags::key.eq(&key),
                    feature_flags::description.eq(&description),
                    feature_flags::default_value.eq(input.default_value),
                    feature_flags::enabled.eq(input.enabled.unwrap_or(true)),
                    feature_flags::rules.eq(&rules_json),
                ))
                .returning(FlagRow::as_returning())
                .get_result(conn)
                .await
                .map_err(|e| match &e {
                    DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                        AppError::Conflict("a flag with this key already exists".into())
                    }
                    _ => e.into(),
                })?;
            events::notify(conn, &Event::FlagsChanged).await?;
            Ok(row)
        })
        .await
}

/// `updateFeatureFlag`.
pub async fn update(caller: &Caller, input: FlagUpdate) -> AppResult<FlagRow> {
    caller
        .change("feature_flag.update", "feature_flag")
        .target(input.key.clone())
        .run(need::operator(), async move |tx, ()| {
            let conn = tx.conn;
            let current = by_key(conn, &input.key).await?.ok_or(AppError::NotFound {
                what: "feature flag",
            })?;
            if current.archived_at.is_some() {
                return Err(AppError::bad_input(
                    "input.key",
                    "an archived flag cannot be changed",
                ));
            }
            let description = input
                .description
                .as_deref()
                .map(|d| parse_description(Some(d)))
                .transpose()?;
            let rules = match &input.rules {
                Some(r) => Some(
                    serde_json::to_value(parse_rules(conn, r).await?)
                        .map_err(AppError::internal)?,
                ),
                None => None,
            };
            if description.is_none()
                && input.default_value.is_none()
                && input.enabled.is_none()
                && rules.is_none()
            {
                return Err(AppError::bad_input("input", "nothing to change"));
            }
            tx.audit.details = json!({
                "description": description, "defaultValue": input.default_value,
                "enabled": input.enabled, "rules": rules, "previousRules": current.rules,
            });
            let target = feature_flags::table.find(&current.key);
            let row = diesel::update(target)
                .set((
                    feature_flags::description
                        .eq(description.unwrap_or(current.description.clone())),
                    feature_flags::default_value
                        .eq(input.default_value.unwrap_or(current.default_value)),
                    feature_flags::enabled.eq(input.enabled.unwrap_or(current.enabled)),
                    feature_flags::rules.eq(rules.unwrap_or(current.rules.clone())),
                ))
                .returning(FlagRow::as_returning())
                .get_result(conn)
                .await?;
            events::notify(conn, &Event::FlagsChanged).await?;
            Ok(row)
        })
        .await
}

/// `archiveFeatureFlag`: kept, never evaluated again (reads of it give `false`).
pub async fn archive(caller: &Caller, key: String) -> AppResult<FlagRow> {
    caller
        .change("feature_flag.archive", "feature_flag")
        .target(key.clone())
        .run(need::operator(), async move |tx, ()| {
            let conn = tx.conn;
            let current = by_key(conn, &key).await?.ok_or(AppError::NotFound {
                what: "feature flag",
            })?;
            if current.archived_at.is_some() {
                return Err(AppError::bad_input("input.key", "already archived"));
            }
            let row = diesel::update(feature_flags::table.find(&key))
                .set(feature_flags::archived_at.eq(diesel::dsl::now))
                .returning(FlagRow::as_returning())
                .get_result(conn)
                .await?;
            events::notify(conn, &Event::FlagsChanged).await?;
            Ok(row)
        })
        .await
}
