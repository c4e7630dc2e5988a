//! Holds the Stripe fake to Stripe's documented rules, as the contract table keeps them
//! (`stripe` in `tests/api/fixtures/contracts/upstream-contracts.json`): the operation exists
//! (method and path), the key comes as `Bearer <key>` or `Basic base64(<key>:)`, a POST body
//! is `application/x-www-form-urlencoded` in bracket notation, a GET has no body, a list's
//! `limit` is within the documented range, and an `Idempotency-Key` is at most 255
//! characters. Whether the key itself is right is the fake's business (a wrong key is a
//! legitimate request Stripe refuses with 401), not a violation.

use std::sync::LazyLock;

use serde_json::Value;

use super::super::Call;
use super::super::contract::{TABLE, matches_template};

static RULES: LazyLock<Value> = LazyLock::new(|| TABLE["stripe"].clone());

/// Every operation id in the table.
pub fn operation_ids() -> Vec<String> {
    RULES["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect()
}

/// The operation a request is for, or the status and message of its refusal.
pub fn check(call: &Call) -> Result<String, (u16, String)> {
    let method = call.method.as_str();
    let operations = RULES["operations"].as_array().cloned().unwrap_or_default();
    let matching: Vec<&Value> = operations
        .iter()
        .filter(|o| matches_template(o["path"].as_str().unwrap_or_default(), &call.path))
        .collect();
    let Some(op) = matching.iter().find(|o| o["method"] == method) else {
        let others: Vec<String> = matching
            .iter()
            .map(|o| {
                format!(
                    "{} ({})",
                    o["method"].as_str().unwrap(),
                    o["id"].as_str().unwrap()
                )
            })
            .collect();
        let why = if others.is_empty() {
            format!("no stripe operation has the path {}", call.path)
        } else {
            format!(
                "{method} {}: the table has only {}",
                call.path,
                others.join(", ")
            )
        };
        return Err((404, format!("stripe contract: {why}")));
    };
    let id = op["id"].as_str().unwrap_or_default().to_owned();
    let refuse = |status: u16, why: String| {
        Err((
            status,
            format!("stripe contract: {id} ({method} {}): {why}", call.path),
        ))
    };
    if !auth_is_documented(call.header("authorization").unwrap_or("")) {
        return refuse(
            401,
            "the key is sent neither as `Bearer <key>` nor as `Basic base64(<key>:)`".into(),
        );
    }
    if let Some(key) = call.header("idempotency-key") {
        let max = RULES["idempotency"]["max_key_length"]
            .as_u64()
            .unwrap_or(255) as usize;
        if key.is_empty() || key.chars().count() > max {
            return refuse(
                400,
                format!("Idempotency-Key must be 1 to {max} characters"),
            );
        }
    }
    let params = if method == "GET" {
        if !call.body.is_empty() {
            return refuse(
                400,
                "a GET takes its parameters in the query, not a body".into(),
            );
        }
        call.query.clone().unwrap_or_default()
    } else {
        let form = call
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if !call.body.is_empty() && !form {
            return refuse(
                400,
                format!(
                    "the body is not form-encoded (Content-Type {:?}); Stripe takes {}",
                    call.header("content-type").unwrap_or(""),
                    RULES["request_body"].as_str().unwrap_or_default()
                ),
            );
        }
        String::from_utf8_lossy(&call.body).into_owned()
    };
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(&params) else {
        return refuse(400, "the parameters are not form-encoded".into());
    };
    for (name, value) in pairs {
        if !in_bracket_notation(&name) {
            return refuse(
                400,
                format!("{name:?} is not a parameter in bracket notation"),
            );
        }
        if name == "limit" {
            let range = &RULES["list"]["limit"];
            let (low, high) = (
                range[0].as_i64().unwrap_or(1),
                range[1].as_i64().unwrap_or(100),
            );
            if !value
                .parse::<i64>()
                .is_ok_and(|l| (low..=high).contains(&l))
            {
                return refuse(400, format!("limit {value:?} is outside {low}..={high}"));
            }
        }
    }
    Ok(id)
}

/// `Bearer <key>`, or `Basic` of `<key>:` (the key as user name, no password).
fn auth_is_documented(header: &str) -> bool {
    use base64::Engine;
    if let Some(key) = header.strip_prefix("Bearer ") {
        return !key.is_empty() && !key.contains(char::is_whitespace);
    }
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            text.strip_suffix(':')
                .map(|key| !key.is_empty() && !key.contains(':'))
        })
        .unwrap_or(false)
}

/// `name`, `name[child]`, `name[]`, `name[a][b]`.
fn in_bracket_notation(name: &str) -> bool {
    let (head, rest) = name.split_once('[').map_or((name, ""), |(h, r)| (h, r));
    let head_ok = !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if rest.is_empty() {
        return head_ok;
    }
    head_ok
        && rest.ends_with(']')
        && rest[..rest.len() - 1]
            .split("][")
            .all(|part| !part.contains(['[', ']']))
}
