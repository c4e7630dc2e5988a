//! OAuth2 providers, applications, policy bindings, flows, keys and scope mappings.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Shared, created, not_found, object, paginate, query_value, refuse, require, uuid};
use crate::support::fakes::pairs;

fn query(raw: Option<String>) -> Vec<(String, String)> {
    pairs(raw.as_deref().unwrap_or(""))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn invalid_pk(field: &str, value: &Value) -> Response {
    refuse(vec![(
        field,
        format!("Invalid pk \"{value}\" - object does not exist."),
    )])
}

pub async fn list_providers(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .providers
        .values()
        .filter(|p| query_value(&q, "name").is_none_or(|n| p["name"] == n))
        .filter(|p| query_value(&q, "client_id").is_none_or(|c| p["client_id"] == c))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `OAuth2ProviderRequest`: `name`, `authorization_flow`, `invalidation_flow` and
/// `redirect_uris` required (2025.8–2025.12); `redirect_uris` items are `RedirectURIRequest`
/// (`matching_mode` ∈ strict|regex and `url`, both required); related pks must exist.
pub async fn create_provider(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let required = [
        "name",
        "authorization_flow",
        "invalidation_flow",
        "redirect_uris",
    ];
    if let Err(refused) = require(&body, &required, &["name"]) {
        return refused;
    }
    let Some(uris) = body["redirect_uris"].as_array() else {
        return refuse(vec![("redirect_uris", "Expected a list of items.".into())]);
    };
    for uri in uris {
        let mode_ok = matches!(
            uri.get("matching_mode").and_then(Value::as_str),
            Some("strict" | "regex")
        );
        if !mode_ok || uri.get("url").and_then(Value::as_str).is_none() {
            return refuse(vec![("redirect_uris", "Invalid redirect URI.".into())]);
        }
    }
    let mut s = state.lock().unwrap();
    for field in ["authorization_flow", "invalidation_flow"] {
        if !s.flows.iter().any(|f| f["pk"] == body[field]) {
            return invalid_pk(field, &body[field]);
        }
    }
    if let Some(key) = body.get("signing_key").filter(|k| !k.is_null())
        && !s.keypairs.iter().any(|k| k["pk"] == *key)
    {
        return invalid_pk("signing_key", key);
    }
    for mapping in body
        .get("property_mappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !s.scope_mappings.iter().any(|m| m["pk"] == *mapping) {
            return invalid_pk("property_mappings", mapping);
        }
    }
    let pk = s.pk();
    let mut provider = body.clone();
    provider.insert("pk".into(), json!(pk));
    provider
        .entry("client_id")
        .or_insert(json!(format!("client-{}", uuid().replace('-', ""))));
    provider.entry("client_secret").or_insert(json!(format!(
        "{}{}",
        uuid().replace('-', ""),
        uuid().replace('-', "")
    )));
    provider.insert("assigned_application_slug".into(), json!(""));
    provider.insert("assigned_application_name".into(), json!(""));
    provider.insert("assigned_backchannel_application_slug".into(), json!(""));
    provider.insert("assigned_backchannel_application_name".into(), json!(""));
    provider.insert("verbose_name".into(), json!("OAuth2/OpenID Provider"));
    provider.insert(
        "verbose_name_plural".into(),
        json!("OAuth2/OpenID Providers"),
    );
    provider.insert("component".into(), json!("ak-provider-oauth2-form"));
    provider.insert(
        "meta_model_name".into(),
        json!("authentik_providers_oauth2.oauth2provider"),
    );
    let provider = Value::Object(provider);
    s.providers.insert(pk, provider.clone());
    created(provider)
}

pub async fn delete_provider(State(state): State<Shared>, Path(pk): Path<i64>) -> Response {
    let mut s = state.lock().unwrap();
    if s.providers.remove(&pk).is_none() {
        return not_found("OAuth2 Provider");
    }
    for app in s.applications.values_mut() {
        if app["provider"] == pk {
            app["provider"] = Value::Null;
        }
    }
    no_content()
}

pub async fn list_applications(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .applications
        .values()
        .filter(|a| query_value(&q, "slug").is_none_or(|n| a["slug"] == n))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `ApplicationRequest`: `name` and `slug` required; `slug` matches `^[-a-zA-Z0-9_]+$`,
/// at most 50 characters, unique; a provider serves one application.
pub async fn create_application(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["name", "slug"], &["name", "slug"]) {
        return refused;
    }
    let slug = body["slug"].as_str().unwrap_or_default().to_owned();
    let slug_ok = slug.len() <= 50
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !slug_ok {
        return refuse(vec![(
            "slug",
            "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.".into(),
        )]);
    }
    let mut s = state.lock().unwrap();
    if s.applications.contains_key(&slug) {
        return refuse(vec![(
            "slug",
            "application with this slug already exists.".into(),
        )]);
    }
    let provider = body.get("provider").cloned().unwrap_or(Value::Null);
    if let Some(pk) = provider.as_i64() {
        if !s.providers.contains_key(&pk) {
            return invalid_pk("provider", &provider);
        }
        if s.applications.values().any(|a| a["provider"] == pk) {
            return refuse(vec![(
                "provider",
                "application with this provider already exists.".into(),
            )]);
        }
    }
    let app = json!({
        "pk": uuid(), "name": body["name"], "slug": slug, "provider": provider,
        "provider_obj": null, "backchannel_providers_obj": [], "launch_url": body.get("meta_launch_url"),
        "meta_launch_url": body.get("meta_launch_url").cloned().unwrap_or(json!("")),
        "meta_icon": null, "policy_engine_mode": body.get("policy_engine_mode").cloned().unwrap_or(json!("any")),
        "group": "",
    });
    if let Some(p) = provider.as_i64().and_then(|pk| s.providers.get_mut(&pk)) {
        p["assigned_application_slug"] = json!(slug);
        p["assigned_application_name"] = body["name"].clone();
    }
    s.applications.insert(slug, app.clone());
    created(app)
}

pub async fn get_application(State(state): State<Shared>, Path(slug): Path<String>) -> Response {
    match state.lock().unwrap().applications.get(&slug) {
        Some(app) => axum::Json(app.clone()).into_response(),
        None => not_found("Application"),
    }
}

pub async fn delete_application(State(state): State<Shared>, Path(slug): Path<String>) -> Response {
    let mut s = state.lock().unwrap();
    let Some(app) = s.applications.remove(&slug) else {
        return not_found("Application");
    };
    s.bindings.retain(|_, b| b["target"] != app["pk"]);
    if let Some(p) = app["provider"]
        .as_i64()
        .and_then(|pk| s.providers.get_mut(&pk))
    {
        p["assigned_application_slug"] = json!("");
    }
    no_content()
}

pub async fn list_bindings(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .bindings
        .values()
        .filter(|b| query_value(&q, "target").is_none_or(|t| b["target"] == t))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `PolicyBindingRequest`: `target` (any policy binding model: an application or a flow
/// here) and `order` required; exactly one of `policy`, `group` and `user` (the
/// serializer's `validate()`, answered as `non_field_errors`).
pub async fn create_binding(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Err(refused) = require(&body, &["target", "order"], &[]) {
        return refused;
    }
    let set = |f: &str| body.get(f).is_some_and(|v| !v.is_null());
    let subjects = ["policy", "group", "user"]
        .into_iter()
        .filter(|f| set(f))
        .count();
    if subjects != 1 {
        let message = if subjects == 0 {
            "One of 'policy', 'group' or 'user' must be set."
        } else {
            "Only one of 'policy', 'group' or 'user' can be set."
        };
        return refuse(vec![("non_field_errors", message.into())]);
    }
    let mut s = state.lock().unwrap();
    // `target` is any `PolicyBindingModel` (applications, flows, sources, …), not only an
    // application: Authentik binds policies, groups and users to all of them.
    let application = s.applications.values().any(|a| a["pk"] == body["target"]);
    let flow = s
        .flows
        .iter()
        .any(|f| f["policybindingmodel_ptr_id"] == body["target"]);
    if !application && !flow {
        return invalid_pk("target", &body["target"]);
    }
    if set("group")
        && !s
            .groups
            .contains_key(body["group"].as_str().unwrap_or_default())
    {
        return invalid_pk("group", &body["group"]);
    }
    let mut binding: Map<String, Value> = body.clone();
    binding.insert("pk".into(), json!(uuid()));
    for field in ["group_obj", "user_obj", "policy_obj"] {
        binding.insert(field.into(), Value::Null);
    }
    let binding = Value::Object(binding);
    let pk = binding["pk"].as_str().unwrap().to_owned();
    s.bindings.insert(pk, binding.clone());
    created(binding)
}

pub async fn delete_binding(State(state): State<Shared>, Path(pk): Path<String>) -> Response {
    match state.lock().unwrap().bindings.remove(&pk) {
        Some(_) => no_content(),
        None => not_found("Policy Binding"),
    }
}

pub async fn list_flows(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let items = s
        .flows
        .iter()
        .filter(|f| query_value(&q, "slug").is_none_or(|n| f["slug"] == n))
        .cloned()
        .collect();
    paginate(items, &q)
}

pub async fn list_keypairs(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let s = state.lock().unwrap();
    let has_key = query_value(&q, "has_key") == Some("true");
    let items = s
        .keypairs
        .iter()
        .filter(|k| query_value(&q, "name").is_none_or(|n| k["name"] == n))
        .filter(|k| !has_key || k["private_key_available"] == true)
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `managed` may repeat (`managed=a&managed=b`).
pub async fn list_scope_mappings(State(state): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let managed: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "managed")
        .map(|(_, v)| v.as_str())
        .collect();
    let s = state.lock().unwrap();
    let items = s
        .scope_mappings
        .iter()
        .filter(|m| managed.is_empty() || managed.iter().any(|w| m["managed"] == *w))
        .cloned()
        .collect();
    paginate(items, &q)
}

/// `PatchedOAuth2ProviderRequest`: the given fields replace the stored ones; redirect URIs
/// are checked as on create.
pub async fn patch_provider(
    State(state): State<Shared>,
    Path(pk): Path<i64>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Some(uris) = body.get("redirect_uris") {
        let valid = uris.as_array().is_some_and(|uris| {
            uris.iter().all(|u| {
                matches!(
                    u.get("matching_mode").and_then(Value::as_str),
                    Some("strict" | "regex")
                ) && u.get("url").and_then(Value::as_str).is_some()
            })
        });
        if !valid {
            return refuse(vec![("redirect_uris", "Invalid redirect URI.".into())]);
        }
    }
    let mut s = state.lock().unwrap();
    let Some(provider) = s.providers.get_mut(&pk) else {
        return not_found("OAuth2 Provider");
    };
    for (field, value) in body {
        provider[field.as_str()] = value;
    }
    axum::Json(provider.clone()).into_response()
}

/// `PatchedApplicationRequest`: the given fields replace the stored ones.
pub async fn patch_application(
    State(state): State<Shared>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let mut s = state.lock().unwrap();
    let Some(app) = s.applications.get_mut(&slug) else {
        return not_found("Application");
    };
    for (field, value) in body {
        if field == "meta_launch_url" {
            app["launch_url"] = value.clone();
        }
        app[field.as_str()] = value;
    }
    axum::Json(app.clone()).into_response()
}
