//! The Authentik adapter against the Authentik fake: every operation's timeout, retry and
//! refused-token behaviour here; happy paths and specific errors in the submodules.

mod directory;
mod sso;

use axum::http::Method;
use platform_api::upstream::authentik::*;
use platform_api::upstream::config::AuthentikConfig;
use platform_api::upstream::{CallError, HttpSettings, Secret};

use super::{SLOW, impatient, settings};
use crate::support::fakes::Fake;
use crate::support::fakes::authentik::{self as fake, AuthentikState};

/// A client for the fake with a given token and settings.
pub fn client_with(
    fake: &Fake<AuthentikState>,
    token: &str,
    http: &HttpSettings,
) -> HttpAuthentikClient {
    let config = AuthentikConfig {
        url: fake.url.parse().unwrap(),
        token: Secret::new(token),
    };
    HttpAuthentikClient::new(&config, http).unwrap()
}

/// A client for the fake with its token.
pub fn client(fake: &Fake<AuthentikState>) -> HttpAuthentikClient {
    client_with(fake, fake::TOKEN, &settings())
}

/// The tenant group every fixture uses.
pub fn tenant_group() -> TenantGroup {
    TenantGroup {
        tenant_id: "7d9c1f8e-0000-4000-8000-000000000001".into(),
        tenant_slug: "acme".into(),
    }
}

/// A user to create.
pub fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        name: format!("{username} Example"),
        email: Some(format!("{username}@acme.example")),
        path: Some("dezky/acme".into()),
    }
}

/// The provider every fixture uses.
pub fn provider_spec(state: &AuthentikState) -> OAuth2ProviderSpec {
    OAuth2ProviderSpec {
        name: "acme-portal".into(),
        authorization_flow: state.flow_pk(fake::AUTHORIZATION_FLOW),
        invalidation_flow: state.flow_pk(fake::INVALIDATION_FLOW),
        redirect_uris: vec![RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: "https://acme.example/callback".into(),
        }],
        signing_key: None,
        property_mappings: Vec::new(),
    }
}

/// Everything the operations need, created through the client; the calls are forgotten.
pub struct Fixture {
    pub fake: Fake<AuthentikState>,
    pub group: Group,
    pub user: User,
    pub provider: OAuth2Provider,
    pub app: Application,
    pub binding: PolicyBinding,
}

impl Fixture {
    pub async fn new() -> Self {
        let fake = fake::spawn().await;
        let c = client(&fake);
        let group = c.ensure_tenant_group(&tenant_group()).await.unwrap();
        let user = c.ensure_user(&new_user("alice")).await.unwrap();
        c.add_user_to_group(&group.pk, user.pk).await.unwrap();
        fake.add_session(user.pk);
        fake.add_device(user.pk, "totp");
        let spec = provider_spec(&fake.state());
        let provider = c.ensure_oauth2_provider(&spec).await.unwrap();
        let app = c.ensure_application(&app_spec(provider.pk)).await.unwrap();
        let binding = c.ensure_group_binding(&app.pk, &group.pk, 0).await.unwrap();
        fake.clear_calls();
        Self {
            fake,
            group,
            user,
            provider,
            app,
            binding,
        }
    }

    fn user_ref(&self) -> UserRef {
        UserRef {
            pk: self.user.pk,
            username: self.user.username.clone(),
        }
    }
}

/// The application every fixture uses.
pub fn app_spec(provider: i64) -> ApplicationSpec {
    ApplicationSpec {
        slug: "acme-portal".into(),
        name: "Acme portal".into(),
        provider,
        launch_url: Some("https://acme.example/".into()),
    }
}

/// Every operation of the trait, by name.
const OPERATIONS: [&str; 24] = [
    "ensure_tenant_group",
    "delete_group",
    "ensure_user",
    "update_user",
    "set_user_active",
    "delete_user",
    "add_user_to_group",
    "remove_user_from_group",
    "set_password",
    "list_sessions",
    "terminate_sessions",
    "count_authenticators",
    "authenticators_by_type",
    "ensure_oauth2_provider",
    "update_oauth2_provider",
    "update_application",
    "delete_oauth2_provider",
    "ensure_application",
    "delete_application",
    "ensure_group_binding",
    "delete_policy_binding",
    "flow_by_slug",
    "signing_key_by_name",
    "scope_mappings",
];

async fn run(op: &str, c: &dyn AuthentikClient, fx: &Fixture) -> Result<(), AuthentikError> {
    let user = fx.user.pk;
    match op {
        "ensure_tenant_group" => c.ensure_tenant_group(&tenant_group()).await.map(drop),
        "delete_group" => c.delete_group(&fx.group.pk).await,
        "ensure_user" => c.ensure_user(&new_user("alice")).await.map(drop),
        "update_user" => {
            let update = UserUpdate {
                name: Some("Alice Renamed".into()),
                email: None,
            };
            c.update_user(user, &update).await.map(drop)
        }
        "set_user_active" => c.set_user_active(user, false).await.map(drop),
        "delete_user" => c.delete_user(user).await,
        "add_user_to_group" => c.add_user_to_group(&fx.group.pk, user).await,
        "remove_user_from_group" => c.remove_user_from_group(&fx.group.pk, user).await,
        "set_password" => c.set_password(user, &Secret::new("n3w-Passw0rd!")).await,
        "list_sessions" => c.list_sessions(&fx.user_ref()).await.map(drop),
        "terminate_sessions" => c.terminate_sessions(&fx.user_ref()).await.map(drop),
        "count_authenticators" => c.count_authenticators(user).await.map(drop),
        "authenticators_by_type" => c.authenticators_by_type(user).await.map(drop),
        "update_oauth2_provider" => {
            let update = OAuth2ProviderUpdate {
                redirect_uris: None,
                client_secret: Some(Secret::new("a-new-client-secret")),
            };
            c.update_oauth2_provider(fx.provider.pk, &update)
                .await
                .map(drop)
        }
        "update_application" => {
            let update = ApplicationUpdate {
                name: "Acme portal, renamed".into(),
                launch_url: None,
            };
            c.update_application(&fx.app.slug, &update).await.map(drop)
        }
        "ensure_oauth2_provider" => {
            let spec = provider_spec(&fx.fake.state());
            c.ensure_oauth2_provider(&spec).await.map(drop)
        }
        "delete_oauth2_provider" => c.delete_oauth2_provider(fx.provider.pk).await,
        "ensure_application" => c
            .ensure_application(&app_spec(fx.provider.pk))
            .await
            .map(drop),
        "delete_application" => c.delete_application(&fx.app.slug).await,
        "ensure_group_binding" => c
            .ensure_group_binding(&fx.app.pk, &fx.group.pk, 0)
            .await
            .map(drop),
        "delete_policy_binding" => c.delete_policy_binding(&fx.binding.pk).await,
        "flow_by_slug" => c.flow_by_slug(fake::INVALIDATION_FLOW).await.map(drop),
        "signing_key_by_name" => c.signing_key_by_name(fake::SIGNING_KEY).await.map(drop),
        "scope_mappings" => c
            .scope_mappings(&["goauthentik.io/providers/oauth2/scope-openid"])
            .await
            .map(drop),
        other => unreachable!("{other}"),
    }
}

#[tokio::test]
async fn every_operation_times_out() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        fx.fake.delay_all(SLOW);
        let c = client_with(&fx.fake, fake::TOKEN, &impatient());
        let err = run(op, &c, &fx).await.unwrap_err();
        assert!(
            matches!(err, AuthentikError::Call(CallError::Timeout(_))),
            "{op}: {err:?}"
        );
        assert_eq!(fx.fake.calls().len(), 1, "{op}: a timeout is not retried");
    }
}

#[tokio::test]
async fn every_operation_is_retried_after_a_503() {
    // On existing objects every operation is a lookup, an absolute PATCH, a DELETE or an
    // add/remove/set that ends in the same state when repeated: all retry-safe.
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        fx.fake.fail_status(1, 503);
        run(op, &client(&fx.fake), &fx)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let calls = fx.fake.calls();
        assert!(calls[0].faulted, "{op}");
        assert_eq!(
            (&calls[1].method, &calls[1].path),
            (&calls[0].method, &calls[0].path),
            "{op}: the same call again"
        );
    }
}

#[tokio::test]
async fn every_operation_reports_a_refused_token() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        let c = client_with(&fx.fake, "ak-wrong-token", &settings());
        let err = run(op, &c, &fx).await.unwrap_err();
        assert!(
            matches!(
                err,
                AuthentikError::Call(CallError::Unauthorized { status: 403 })
            ),
            "{op}: {err:?}"
        );
        assert_eq!(fx.fake.calls().len(), 1, "{op}: a 403 is not retried");
    }
}

/// Ensure-operations whose object is missing end in a POST, which is not retried.
#[tokio::test]
async fn creating_posts_are_not_retried() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let cases = [
        ("/api/v3/core/groups/", "group"),
        ("/api/v3/core/users/", "user"),
    ];
    for (path, what) in cases {
        fake.fail_next_on(
            1,
            crate::support::fakes::FaultKind::Status {
                status: 503,
                retry_after: None,
            },
            Method::POST,
            path,
        );
        let result = match what {
            "group" => c.ensure_tenant_group(&tenant_group()).await.map(drop),
            _ => c.ensure_user(&new_user("bob")).await.map(drop),
        };
        assert!(
            matches!(
                result,
                Err(AuthentikError::Call(CallError::Unavailable { status: 503 }))
            ),
            "{what}: {result:?}"
        );
        assert_eq!(
            fake.calls_to(Method::POST, path).len(),
            1,
            "{what}: one POST"
        );
    }
    // Repeating the ensure after the failure creates exactly one of each.
    c.ensure_tenant_group(&tenant_group()).await.unwrap();
    c.ensure_user(&new_user("bob")).await.unwrap();
    assert_eq!(fake.state().groups.len(), 1);
    assert_eq!(fake.state().users.len(), 1);
}

/// Every adapter operation and the spec operations (Authentik 2025.10.4 `operationId`s) it
/// maps to. The test runs each operation against the validating fake: a call the contract
/// table does not have is refused there (and fails the test), and the operations actually
/// hit must be exactly these.
const SPEC_OPERATIONS: [(&str, &[&str]); 24] = [
    ("ensure_tenant_group", &["core_groups_list"]),
    ("delete_group", &["core_groups_destroy"]),
    ("ensure_user", &["core_users_list"]),
    ("update_user", &["core_users_partial_update"]),
    ("set_user_active", &["core_users_partial_update"]),
    ("delete_user", &["core_users_destroy"]),
    ("add_user_to_group", &["core_groups_add_user_create"]),
    (
        "remove_user_from_group",
        &["core_groups_remove_user_create"],
    ),
    ("set_password", &["core_users_set_password_create"]),
    ("list_sessions", &["core_authenticated_sessions_list"]),
    (
        "terminate_sessions",
        &[
            "core_authenticated_sessions_list",
            "core_authenticated_sessions_destroy",
        ],
    ),
    ("count_authenticators", &["authenticators_admin_all_list"]),
    ("authenticators_by_type", &["authenticators_admin_all_list"]),
    ("ensure_oauth2_provider", &["providers_oauth2_list"]),
    (
        "update_oauth2_provider",
        &["providers_oauth2_partial_update"],
    ),
    ("update_application", &["core_applications_partial_update"]),
    ("delete_oauth2_provider", &["providers_oauth2_destroy"]),
    ("ensure_application", &["core_applications_retrieve"]),
    ("delete_application", &["core_applications_destroy"]),
    ("ensure_group_binding", &["policies_bindings_list"]),
    ("delete_policy_binding", &["policies_bindings_destroy"]),
    ("flow_by_slug", &["flows_instances_list"]),
    ("signing_key_by_name", &["crypto_certificatekeypairs_list"]),
    ("scope_mappings", &["propertymappings_provider_scope_list"]),
];

#[tokio::test]
async fn every_operation_maps_to_spec_operations_in_the_table() {
    let table = crate::support::fakes::contract::AUTHENTIK.operation_ids();
    assert_eq!(
        SPEC_OPERATIONS.len(),
        OPERATIONS.len(),
        "every adapter operation is listed"
    );
    for (op, spec) in SPEC_OPERATIONS {
        assert!(OPERATIONS.contains(&op), "{op}");
        for id in spec {
            assert!(
                table.contains(id),
                "{op}: {id} is not in the contract table"
            );
        }
        // The fixture's objects exist, so the ensure_* operations find them (creation is
        // covered by the fixture itself: core_groups_create, core_users_create, …).
        let fx = Fixture::new().await;
        fx.fake.clear_operations();
        run(op, &client(&fx.fake), &fx)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let mut seen = fx.fake.operations();
        seen.dedup();
        assert_eq!(seen, spec, "{op}");
    }
}
