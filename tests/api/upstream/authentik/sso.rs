//! A tenant's SSO app: lookups, provider, application and group binding.

use axum::http::Method;
use platform_api::upstream::CallError;
use platform_api::upstream::authentik::*;

use super::{Fixture, app_spec, client, provider_spec, tenant_group};
use crate::support::fakes::FaultKind;
use crate::support::fakes::authentik as fake;

#[tokio::test]
async fn an_sso_app_is_assembled_once_and_torn_down() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let authorization = c.flow_by_slug(fake::AUTHORIZATION_FLOW).await.unwrap();
    let invalidation = c.flow_by_slug(fake::INVALIDATION_FLOW).await.unwrap();
    assert_eq!(invalidation.designation, "invalidation");
    let key = c.signing_key_by_name(fake::SIGNING_KEY).await.unwrap();
    let scopes = c
        .scope_mappings(&[
            "goauthentik.io/providers/oauth2/scope-openid",
            "goauthentik.io/providers/oauth2/scope-email",
            "goauthentik.io/providers/oauth2/scope-profile",
        ])
        .await
        .unwrap();
    assert_eq!(
        scopes
            .iter()
            .map(|s| s.scope_name.as_str())
            .collect::<Vec<_>>(),
        ["openid", "email", "profile"]
    );
    let group = c.ensure_tenant_group(&tenant_group()).await.unwrap();

    let spec = OAuth2ProviderSpec {
        name: "acme-portal".into(),
        authorization_flow: authorization.pk,
        invalidation_flow: invalidation.pk,
        redirect_uris: vec![RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: "https://acme.example/callback".into(),
        }],
        signing_key: Some(key.pk),
        property_mappings: scopes.iter().map(|s| s.pk.clone()).collect(),
    };
    let provider = c.ensure_oauth2_provider(&spec).await.unwrap();
    let app = c.ensure_application(&app_spec(provider.pk)).await.unwrap();
    let binding = c
        .ensure_group_binding(&app.pk, &group.pk, 10)
        .await
        .unwrap();
    // Twice: nothing new.
    assert_eq!(
        c.ensure_oauth2_provider(&spec).await.unwrap().pk,
        provider.pk
    );
    assert_eq!(
        c.ensure_application(&app_spec(provider.pk))
            .await
            .unwrap()
            .pk,
        app.pk
    );
    let again = c
        .ensure_group_binding(&app.pk, &group.pk, 10)
        .await
        .unwrap();
    assert_eq!(again.pk, binding.pk);
    {
        let s = fake.state();
        assert_eq!(
            (s.providers.len(), s.applications.len(), s.bindings.len()),
            (1, 1, 1)
        );
    }
    assert!(!provider.client_id.is_empty());
    assert!(provider.client_secret.expose().len() >= 32);
    assert_eq!(binding.group.as_deref(), Some(group.pk.as_str()));
    assert_eq!(binding.target, app.pk);

    let sent = fake.calls_to(Method::POST, "/api/v3/providers/oauth2/")[0].json();
    assert_eq!(sent["invalidation_flow"], spec.invalidation_flow.as_str());
    assert_eq!(sent["redirect_uris"][0]["matching_mode"], "strict");
    let sent = fake.calls_to(Method::POST, "/api/v3/policies/bindings/")[0].json();
    assert!(sent.get("policy").is_none() && sent.get("user").is_none());

    c.delete_policy_binding(&binding.pk).await.unwrap();
    c.delete_application(&app.slug).await.unwrap();
    c.delete_oauth2_provider(provider.pk).await.unwrap();
    c.delete_oauth2_provider(provider.pk).await.unwrap();
    let s = fake.state();
    assert!(s.providers.is_empty() && s.applications.is_empty() && s.bindings.is_empty());
}

#[tokio::test]
async fn lookups_that_find_nothing_are_not_found() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let err = c.flow_by_slug("no-such-flow").await.unwrap_err();
    assert!(
        matches!(err, AuthentikError::NotFound { what: "flow" }),
        "{err:?}"
    );
    let err = c.signing_key_by_name("no such key").await.unwrap_err();
    assert!(
        matches!(
            err,
            AuthentikError::NotFound {
                what: "signing key"
            }
        ),
        "{err:?}"
    );
    let err = c
        .scope_mappings(&["goauthentik.io/providers/oauth2/scope-openid", "x/groups"])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthentikError::NotFound {
                what: "scope mapping"
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_fake_refuses_what_authentik_refuses() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let mut spec = provider_spec(&fx.fake.state());
    spec.name = "other".into();
    spec.invalidation_flow = "00000000-0000-4000-8000-000000000000".into();
    let err = c.ensure_oauth2_provider(&spec).await.unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("invalidation_flow")),
        "{err:?}"
    );
    let err = c
        .ensure_group_binding(&fx.app.pk, "00000000-0000-4000-8000-000000000000", 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("group")),
        "{err:?}"
    );
    let mut app = app_spec(fx.provider.pk);
    app.slug = "second-app".into();
    let err = c.ensure_application(&app).await.unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("provider")),
        "a provider serves one application: {err:?}"
    );
    let err = c.delete_application("no/slash").await.unwrap_err();
    assert!(matches!(err, AuthentikError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn an_application_bound_to_another_provider_is_a_conflict() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let err = c
        .ensure_application(&app_spec(fx.provider.pk + 1))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthentikError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn creating_posts_are_not_retried() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    c.delete_policy_binding(&fx.binding.pk).await.unwrap();
    c.delete_application(&fx.app.slug).await.unwrap();
    c.delete_oauth2_provider(fx.provider.pk).await.unwrap();
    let fail = |path: &str| {
        let kind = FaultKind::Status {
            status: 502,
            retry_after: None,
        };
        fx.fake.fail_next_on(1, kind, Method::POST, path);
    };
    let unavailable = |r: &Result<(), AuthentikError>| {
        matches!(
            r,
            Err(AuthentikError::Call(CallError::Unavailable { status: 502 }))
        )
    };

    let spec = provider_spec(&fx.fake.state());
    fail("/api/v3/providers/oauth2/");
    assert!(unavailable(
        &c.ensure_oauth2_provider(&spec).await.map(drop)
    ));
    let provider = c.ensure_oauth2_provider(&spec).await.unwrap();
    fail("/api/v3/core/applications/");
    assert!(unavailable(
        &c.ensure_application(&app_spec(provider.pk)).await.map(drop)
    ));
    let app = c.ensure_application(&app_spec(provider.pk)).await.unwrap();
    fail("/api/v3/policies/bindings/");
    assert!(unavailable(
        &c.ensure_group_binding(&app.pk, &fx.group.pk, 0)
            .await
            .map(drop)
    ));
    c.ensure_group_binding(&app.pk, &fx.group.pk, 0)
        .await
        .unwrap();

    for path in [
        "/api/v3/providers/oauth2/",
        "/api/v3/core/applications/",
        "/api/v3/policies/bindings/",
    ] {
        assert_eq!(
            fx.fake.calls_to(Method::POST, path).len(),
            2,
            "{path}: one failed, one created"
        );
    }
    let s = fx.fake.state();
    assert_eq!(
        (s.providers.len(), s.applications.len(), s.bindings.len()),
        (1, 1, 1)
    );
}

/// Finding 4 of issue 25: nested validation errors (a `redirect_uris` item) and `code` are
/// kept, with their path. The blank URL breaks the schema, so the fake also records it as a
/// violation naming `providers_oauth2_create`.
#[tokio::test]
async fn nested_validation_errors_keep_their_path_and_code() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let mut spec = provider_spec(&fx.fake.state());
    spec.name = "nested".into();
    spec.redirect_uris.push(RedirectUri {
        matching_mode: MatchingMode::Strict,
        url: String::new(),
    });
    let err = c.ensure_oauth2_provider(&spec).await.unwrap_err();
    let AuthentikError::Invalid { fields, code } = err else {
        panic!("{err:?}");
    };
    let key = format!("redirect_uris[{}].url", spec.redirect_uris.len() - 1);
    assert!(fields.contains_key(&key), "{fields:?}");
    assert_eq!(code.as_deref(), Some("invalid"));
    let violations = fx.fake.take_violations();
    assert!(
        violations.len() == 1 && violations[0].contains("providers_oauth2_create"),
        "{violations:?}"
    );
}

/// Finding 4 of issue 25: a 403 that is not about the token is a permission denial, not
/// "credentials refused".
#[tokio::test]
async fn a_permission_denial_is_not_a_refused_token() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    fx.fake.state().denied.push("/providers/oauth2/".into());
    let mut spec = provider_spec(&fx.fake.state());
    spec.name = "denied".into();
    let err = c.ensure_oauth2_provider(&spec).await.unwrap_err();
    assert!(matches!(err, AuthentikError::Denied { .. }), "{err:?}");
    // A bad token is still refused credentials.
    let wrong = super::client_with(&fx.fake, "wrong-token", &super::settings());
    let err = wrong
        .flow_by_slug(fake::INVALIDATION_FLOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthentikError::Call(CallError::Unauthorized { status: 403 })
        ),
        "{err:?}"
    );
}

/// A request outside the Authentik contract is caught by the fake, naming the operation:
/// a missing required field, a bad enum value and an unknown path.
#[tokio::test]
async fn the_fake_catches_requests_outside_the_contract() {
    let fx = Fixture::new().await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{}/api/v3{path}", fx.fake.url))
            .bearer_auth(fake::TOKEN)
            .json(&body)
            .send()
    };
    let flow = fx.fake.state().flow_pk(fake::INVALIDATION_FLOW);
    let missing = post("/core/users/", serde_json::json!({"username": "x"}));
    let bad_enum = post(
        "/providers/oauth2/",
        serde_json::json!({"name": "p", "authorization_flow": flow, "invalidation_flow": flow,
            "redirect_uris": [], "client_type": "secretive"}),
    );
    let unknown = post("/core/nowhere/", serde_json::json!({}));
    assert_eq!(missing.await.unwrap().status(), 400);
    assert_eq!(bad_enum.await.unwrap().status(), 400);
    assert_eq!(unknown.await.unwrap().status(), 404);
    let violations = fx.fake.take_violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(
        violations[0].contains("core_users_create")
            && violations[0].contains("body.name: required")
    );
    assert!(
        violations[1].contains("providers_oauth2_create") && violations[1].contains("client_type")
    );
    assert!(violations[2].contains("no authentik operation has the path /api/v3/core/nowhere/"));
}

/// Finding 5 of issue 25: a policy binding's target is any policy binding model, not only an
/// application (Authentik binds to flows, sources, …); a target that is no such model is
/// still refused, and nothing is written then.
#[tokio::test]
async fn a_binding_may_target_a_flow_but_not_an_unknown_model() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let flow = fx
        .fake
        .state()
        .flow_binding_target(fake::AUTHORIZATION_FLOW);
    let binding = c
        .ensure_group_binding(&flow, &fx.group.pk, 5)
        .await
        .unwrap();
    assert_eq!(binding.target, flow);
    let again = c
        .ensure_group_binding(&flow, &fx.group.pk, 5)
        .await
        .unwrap();
    assert_eq!(again.pk, binding.pk, "ensured once");
    assert_eq!(
        fx.fake.state().bindings.len(),
        2,
        "the fixture's and the flow's"
    );

    let nowhere = "0b6c1f9e-2f57-4c1e-9a55-5d2b1c0e7a11";
    let err = c
        .ensure_group_binding(nowhere, &fx.group.pk, 5)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("target")),
        "{err:?}"
    );
    assert_eq!(fx.fake.state().bindings.len(), 2);
}
