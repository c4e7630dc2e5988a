//! `x:Account` of `@type` `User` (`schemas["x:UserAccount"]` in the table; its properties,
//! variants and quota names are checked against the table before these run).

use serde_json::{Map, Value, json};

use super::StalwartState;
use super::objects::{SetError, apply_patch, invalid, set_error};

pub(super) fn create_account(
    s: &mut StalwartState,
    object: &Map<String, Value>,
) -> Result<Value, SetError> {
    let Some(name) = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(invalid("name", "Missing required property"));
    };
    let Some(domain_id) = object.get("domainId").and_then(Value::as_str) else {
        return Err(invalid("domainId", "Missing required property"));
    };
    let Some(domain) = s.domains.get(domain_id) else {
        return Err(set_error(
            "invalidForeignKey",
            "Domain does not exist",
            &["domainId"],
        ));
    };
    let email = format!("{name}@{}", domain["name"].as_str().unwrap_or_default());
    if s.accounts
        .values()
        .any(|a| a["emailAddress"] == email.as_str())
    {
        return Err(set_error(
            "primaryKeyViolation",
            "An account with this name already exists",
            &["name"],
        ));
    }
    let mut account = Value::Object(object.clone());
    // Collections default to empty, so patches like `quotas/maxDiskQuota` have a parent.
    for collection in ["credentials", "quotas", "aliases", "memberGroupIds"] {
        if account.get(collection).is_none_or(Value::is_null) {
            account[collection] = json!({});
        }
    }
    let password = check_account(&mut account)?;
    check_aliases(s, None, &account)?;
    let id = s.id("a");
    account["id"] = json!(id);
    account["emailAddress"] = json!(email);
    account["createdAt"] = json!("2025-11-23T12:00:00Z");
    if let Some(password) = password {
        s.passwords.insert(id.clone(), password);
    }
    s.accounts.insert(id.clone(), account);
    Ok(json!({"id": id, "emailAddress": email, "createdAt": "2025-11-23T12:00:00Z"}))
}

/// Validates the credentials as the server does (one password, no app passwords or API keys
/// through this list, strength); masks the password and returns its
/// plaintext (Stalwart checks strength, then hashes).
fn check_account(account: &mut Value) -> Result<Option<String>, SetError> {
    let mut password = None;
    let mut passwords = 0;
    for (key, credential) in account["credentials"].as_object_mut().into_iter().flatten() {
        if key.parse::<u32>().is_err() {
            return Err(invalid("credentials", "A list is keyed by index"));
        }
        match credential["@type"].as_str() {
            Some("Password") => passwords += 1,
            Some("AppPassword" | "ApiKey") => {
                return Err(invalid(
                    &format!("credentials/{key}"),
                    "Cannot be created through credentials",
                ));
            }
            _ => return Err(invalid(&format!("credentials/{key}"), "Invalid @type")),
        }
        if let Some(secret) = credential["secret"].as_str().filter(|s| *s != "********") {
            if secret.len() < 8 {
                // The real server names the credential's own property (principal.rs).
                return Err(invalid("secret", "Password is too weak"));
            }
            password = Some(secret.to_owned());
            credential["secret"] = json!("********");
            credential["credentialId"] = json!(format!("cred-{key}"));
        }
    }
    if passwords > 1 {
        return Err(invalid(
            "credentials",
            "Only one password credential is allowed",
        ));
    }
    Ok(password)
}

pub(super) fn update_account(
    s: &mut StalwartState,
    id: &str,
    patch: &Map<String, Value>,
) -> Result<(), SetError> {
    let mut account = s
        .accounts
        .get(id)
        .cloned()
        .ok_or_else(|| set_error("notFound", "", &[]))?;
    apply_patch(&mut account, patch)?;
    let password = check_account(&mut account)?;
    check_aliases(s, Some(id), &account)?;
    if let Some(password) = password {
        s.passwords.insert(id.to_owned(), password);
    }
    s.accounts.insert(id.to_owned(), account);
    Ok(())
}

pub(super) fn destroy_account(s: &mut StalwartState, id: &str) -> Result<(), SetError> {
    s.accounts
        .remove(id)
        .map(drop)
        .ok_or_else(|| set_error("notFound", "", &[]))
}

/// `aliases` is an objectList of `x:EmailAlias` (`name`, `domainId`, `enabled`,
/// `description`): the domain must exist, and no other account may own the address (as its
/// own or as an alias) — else `primaryKeyViolation`.
fn check_aliases(s: &StalwartState, id: Option<&str>, account: &Value) -> Result<(), SetError> {
    let addresses = |a: &Value| -> Vec<String> {
        let mut all = vec![a["emailAddress"].as_str().unwrap_or_default().to_owned()];
        for alias in a["aliases"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, v)| v)
        {
            let domain = alias["domainId"].as_str().and_then(|d| s.domains.get(d));
            if let (Some(name), Some(domain)) = (alias["name"].as_str(), domain) {
                all.push(format!(
                    "{name}@{}",
                    domain["name"].as_str().unwrap_or_default()
                ));
            }
        }
        all
    };
    for (key, alias) in account["aliases"].as_object().into_iter().flatten() {
        if key.parse::<u32>().is_err() || alias["name"].as_str().is_none_or(str::is_empty) {
            return Err(invalid(&format!("aliases/{key}/name"), "Invalid alias"));
        }
        let Some(domain) = alias["domainId"].as_str().and_then(|d| s.domains.get(d)) else {
            let property = format!("aliases/{key}/domainId");
            return Err(set_error(
                "invalidForeignKey",
                "Domain does not exist",
                &[&property],
            ));
        };
        let address = format!(
            "{}@{}",
            alias["name"].as_str().unwrap_or_default(),
            domain["name"].as_str().unwrap_or_default()
        );
        let taken = s
            .accounts
            .iter()
            .filter(|(other, _)| Some(other.as_str()) != id)
            .any(|(_, other)| addresses(other).contains(&address));
        if taken {
            return Err(set_error(
                "primaryKeyViolation",
                "Address already in use",
                &["aliases"],
            ));
        }
    }
    Ok(())
}
