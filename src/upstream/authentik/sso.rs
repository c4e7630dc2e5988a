//! A tenant's SSO app: OAuth2 provider, application, group binding, and the lookups they
//! need (flows, signing keys, scope mappings).

use serde::Deserialize;
use serde_json::json;

use super::http::{API, HttpAuthentikClient, slug_segment, uuid_segment};
use super::*;
use crate::upstream::transport::Request;

#[derive(Deserialize)]
struct ProviderWire {
    pk: i64,
    name: String,
    client_id: String,
    #[serde(default)]
    client_secret: String,
    assigned_application_slug: Option<String>,
}

impl From<ProviderWire> for OAuth2Provider {
    fn from(p: ProviderWire) -> Self {
        Self {
            pk: p.pk,
            name: p.name,
            client_id: p.client_id,
            client_secret: Secret::new(p.client_secret),
            assigned_application_slug: p.assigned_application_slug.filter(|s| !s.is_empty()),
        }
    }
}

pub(super) async fn ensure_oauth2_provider(
    client: &HttpAuthentikClient,
    spec: &OAuth2ProviderSpec,
) -> Result<OAuth2Provider, AuthentikError> {
    let filters = [("name", spec.name.as_str())];
    let found: Vec<ProviderWire> = client
        .list("/providers/oauth2/", &filters, "OAuth2 provider")
        .await?;
    if let Some(existing) = found.into_iter().find(|p| p.name == spec.name) {
        return Ok(existing.into());
    }
    let body = json!({
        "name": spec.name,
        "authorization_flow": spec.authorization_flow,
        "invalidation_flow": spec.invalidation_flow,
        "redirect_uris": spec.redirect_uris,
        "client_type": "confidential",
        "signing_key": spec.signing_key,
        "property_mappings": spec.property_mappings,
        "sub_mode": "hashed_user_id",
        "issuer_mode": "per_provider",
        "include_claims_in_id_token": true,
    });
    let create = Request::post(format!("{API}/providers/oauth2/")).json(&body);
    let created: ProviderWire = client.json(create, "OAuth2 provider").await?;
    Ok(created.into())
}

pub(super) async fn ensure_application(
    client: &HttpAuthentikClient,
    spec: &ApplicationSpec,
) -> Result<Application, AuthentikError> {
    let slug = slug_segment(&spec.slug)?;
    let get = Request::get(format!("{API}/core/applications/{slug}/"));
    match client.json::<Application>(get, "application").await {
        Ok(existing) if existing.provider == Some(spec.provider) => return Ok(existing),
        Ok(_) => {
            return Err(AuthentikError::Conflict(format!(
                "the Authentik application {slug:?} uses another provider"
            )));
        }
        Err(AuthentikError::NotFound { .. }) => {}
        Err(other) => return Err(other),
    }
    let body = json!({
        "name": spec.name,
        "slug": slug,
        "provider": spec.provider,
        "meta_launch_url": spec.launch_url.as_deref().unwrap_or(""),
        "policy_engine_mode": "any",
    });
    let create = Request::post(format!("{API}/core/applications/")).json(&body);
    client.json(create, "application").await
}

pub(super) async fn ensure_group_binding(
    client: &HttpAuthentikClient,
    application_pk: &str,
    group_pk: &str,
    order: i32,
) -> Result<PolicyBinding, AuthentikError> {
    let target = uuid_segment(application_pk)?;
    let group = uuid_segment(group_pk)?;
    let bindings: Vec<PolicyBinding> = client
        .list(
            "/policies/bindings/",
            &[("target", target)],
            "policy binding",
        )
        .await?;
    if let Some(existing) = bindings
        .into_iter()
        .find(|b| b.target == target && b.group.as_deref() == Some(group))
    {
        return Ok(existing);
    }
    let body = json!({
        "target": target,
        "group": group,
        "order": order,
        "enabled": true,
        "negate": false,
        "timeout": 30,
    });
    let create = Request::post(format!("{API}/policies/bindings/")).json(&body);
    client.json(create, "policy binding").await
}

pub(super) async fn flow_by_slug(
    client: &HttpAuthentikClient,
    slug: &str,
) -> Result<Flow, AuthentikError> {
    let flows: Vec<Flow> = client
        .list("/flows/instances/", &[("slug", slug)], "flow")
        .await?;
    flows
        .into_iter()
        .find(|f| f.slug == slug)
        .ok_or(AuthentikError::NotFound { what: "flow" })
}

pub(super) async fn signing_key_by_name(
    client: &HttpAuthentikClient,
    name: &str,
) -> Result<CertificateKeyPair, AuthentikError> {
    let filters = [("name", name), ("has_key", "true")];
    let keys: Vec<CertificateKeyPair> = client
        .list("/crypto/certificatekeypairs/", &filters, "signing key")
        .await?;
    keys.into_iter()
        .find(|k| k.name == name)
        .ok_or(AuthentikError::NotFound {
            what: "signing key",
        })
}

pub(super) async fn scope_mappings(
    client: &HttpAuthentikClient,
    managed: &[&str],
) -> Result<Vec<ScopeMapping>, AuthentikError> {
    let filters: Vec<(&str, &str)> = managed.iter().map(|m| ("managed", *m)).collect();
    let found: Vec<ScopeMapping> = client
        .list(
            "/propertymappings/provider/scope/",
            &filters,
            "scope mapping",
        )
        .await?;
    managed
        .iter()
        .map(|wanted| {
            found
                .iter()
                .find(|m| m.managed.as_deref() == Some(*wanted))
                .cloned()
                .ok_or(AuthentikError::NotFound {
                    what: "scope mapping",
                })
        })
        .collect()
}

pub(super) async fn update_oauth2_provider(
    client: &HttpAuthentikClient,
    provider_pk: i64,
    update: &OAuth2ProviderUpdate,
) -> Result<OAuth2Provider, AuthentikError> {
    let mut body = serde_json::Map::new();
    if let Some(uris) = &update.redirect_uris {
        body.insert("redirect_uris".into(), json!(uris));
    }
    if let Some(secret) = &update.client_secret {
        body.insert("client_secret".into(), json!(secret.expose()));
    }
    // Absolute values: sending it twice ends in the same state.
    let patch = Request::patch(format!("{API}/providers/oauth2/{provider_pk}/"))
        .retry_safe()
        .json(&serde_json::Value::Object(body));
    let updated: ProviderWire = client.json(patch, "OAuth2 provider").await?;
    Ok(updated.into())
}

pub(super) async fn update_application(
    client: &HttpAuthentikClient,
    slug: &str,
    update: &ApplicationUpdate,
) -> Result<Application, AuthentikError> {
    let slug = slug_segment(slug)?;
    let body = json!({
        "name": update.name,
        "meta_launch_url": update.launch_url.as_deref().unwrap_or(""),
    });
    let patch = Request::patch(format!("{API}/core/applications/{slug}/"))
        .retry_safe()
        .json(&body);
    client.json(patch, "application").await
}
