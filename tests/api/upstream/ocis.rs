//! The oCIS adapter against the oCIS fake.

use axum::http::Method;
use platform_api::upstream::config::OcisConfig;
use platform_api::upstream::ocis::*;
use platform_api::upstream::{CallError, Credentials, HttpSettings, Secret};

use super::{SLOW, impatient, settings};
use crate::support::fakes::ocis::{self as fake, OcisState};
use crate::support::fakes::{Fake, FaultKind};

const GIB: u64 = 1 << 30;

fn client_with(
    fake: &Fake<OcisState>,
    credentials: Credentials,
    http: &HttpSettings,
) -> HttpOcisClient {
    let config = OcisConfig {
        url: fake.url.parse().unwrap(),
        credentials,
    };
    HttpOcisClient::new(&config, http).unwrap()
}

fn client(fake: &Fake<OcisState>) -> HttpOcisClient {
    client_with(
        fake,
        Credentials::Bearer(Secret::new(fake::TOKEN)),
        &settings(),
    )
}

fn space(existing_id: Option<&str>, quota_bytes: u64) -> EnsureSpace {
    EnsureSpace {
        name: "acme".into(),
        description: Some("Acme's files".into()),
        quota_bytes,
        existing_id: existing_id.map(str::to_owned),
    }
}

fn person(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} Example"),
        mail: format!("{username}@acme.example"),
        password: Secret::new("files-pw-Kk2!"),
    }
}

struct Fixture {
    fake: Fake<OcisState>,
    space: Space,
    user: User,
}

impl Fixture {
    async fn new() -> Self {
        let fake = fake::spawn().await;
        let c = client(&fake);
        let space = c
            .ensure_project_space(&space(None, 10 * GIB))
            .await
            .unwrap();
        let user = c.ensure_user(&person("alice")).await.unwrap();
        c.add_user_to_space(&space.id, &user.id, SpaceRole::Editor)
            .await
            .unwrap();
        fake.clear_calls();
        Self { fake, space, user }
    }
}

const OPERATIONS: [&str; 7] = [
    "ensure_project_space",
    "space_usage",
    "ensure_user",
    "delete_user",
    "add_user_to_space",
    "remove_user_from_space",
    "set_user_enabled",
];

async fn run(op: &str, c: &dyn OcisClient, fx: &Fixture) -> Result<(), OcisError> {
    match op {
        "ensure_project_space" => c
            .ensure_project_space(&space(Some(&fx.space.id), 10 * GIB))
            .await
            .map(drop),
        "space_usage" => c.space_usage(&fx.space.id).await.map(drop),
        "ensure_user" => c.ensure_user(&person("alice")).await.map(drop),
        "delete_user" => c.delete_user(&fx.user.id).await,
        "add_user_to_space" => {
            c.add_user_to_space(&fx.space.id, &fx.user.id, SpaceRole::Editor)
                .await
        }
        "remove_user_from_space" => c.remove_user_from_space(&fx.space.id, &fx.user.id).await,
        "set_user_enabled" => c.set_user_enabled(&fx.user.id, false).await,
        other => unreachable!("{other}"),
    }
}

#[tokio::test]
async fn every_operation_times_out() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        fx.fake.delay_all(SLOW);
        let c = client_with(
            &fx.fake,
            Credentials::Bearer(Secret::new(fake::TOKEN)),
            &impatient(),
        );
        let err = run(op, &c, &fx).await.unwrap_err();
        assert!(
            matches!(err, OcisError::Call(CallError::Timeout(_))),
            "{op}: {err:?}"
        );
        assert_eq!(fx.fake.calls().len(), 1, "{op}: a timeout is not retried");
    }
}

#[tokio::test]
async fn every_operation_is_retried_after_a_503() {
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
            "{op}"
        );
    }
}

#[tokio::test]
async fn every_operation_reports_refused_credentials() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        let wrong = Credentials::Basic {
            username: fake::ADMIN.into(),
            password: Secret::new("wrong"),
        };
        let err = run(op, &client_with(&fx.fake, wrong, &settings()), &fx)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                OcisError::Call(CallError::Unauthorized { status: 401 })
            ),
            "{op}: {err:?}"
        );
    }
    // Basic auth with the right password works.
    let fx = Fixture::new().await;
    let basic = Credentials::Basic {
        username: fake::ADMIN.into(),
        password: Secret::new(fake::ADMIN_PASSWORD),
    };
    run(
        "space_usage",
        &client_with(&fx.fake, basic, &settings()),
        &fx,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn ensure_project_space_creates_once_and_keeps_the_quota() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let first = c
        .ensure_project_space(&space(None, 10 * GIB))
        .await
        .unwrap();
    let by_name = c
        .ensure_project_space(&space(None, 10 * GIB))
        .await
        .unwrap();
    let by_id = c
        .ensure_project_space(&space(Some(&first.id), 10 * GIB))
        .await
        .unwrap();
    assert_eq!(
        (by_name.id.as_str(), by_id.id.as_str()),
        (first.id.as_str(), first.id.as_str())
    );
    assert_eq!(fake.state().drives.len(), 1);
    assert_eq!(first.quota.total, 10 * GIB);
    let sent = fake.calls_to(Method::POST, "/graph/v1.0/drives")[0].json();
    assert_eq!(sent["driveType"], "project");
    assert_eq!(sent["quota"]["total"], 10 * GIB);
    let list = &fake.calls_to(Method::GET, "/graph/v1.0/drives")[0];
    assert!(
        list.query
            .as_deref()
            .unwrap()
            .contains("driveType+eq+%27project%27")
    );

    let grown = c
        .ensure_project_space(&space(Some(&first.id), 20 * GIB))
        .await
        .unwrap();
    assert_eq!(grown.quota.total, 20 * GIB);
    let path = format!("/graph/v1.0/drives/{}", first.id);
    assert_eq!(fake.calls_to(Method::PATCH, &path).len(), 1);
    let gone = c
        .ensure_project_space(&space(Some("storage-users-1$gone"), 20 * GIB))
        .await
        .unwrap();
    assert_eq!(
        gone.id, first.id,
        "an unknown stored id falls back to the name"
    );
    assert_eq!(fake.state().drives.len(), 1);

    let mut huge = space(None, fake::MAX_QUOTA + 1);
    huge.name = "huge".into();
    let err = c.ensure_project_space(&huge).await.unwrap_err();
    assert!(
        matches!(err, OcisError::Invalid { ref code, .. } if code == "invalidRequest"),
        "{err:?}"
    );
}

#[tokio::test]
async fn space_usage_reads_the_quota_state() {
    let fx = Fixture::new().await;
    fx.fake.state().set_used(&fx.space.id, 9 * GIB);
    let quota = client(&fx.fake).space_usage(&fx.space.id).await.unwrap();
    assert_eq!(
        (quota.total, quota.used, quota.remaining),
        (10 * GIB, 9 * GIB, GIB)
    );
    assert_eq!(quota.state, "nearing");
    let err = client(&fx.fake)
        .space_usage("storage-users-1$gone")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OcisError::NotFound { what: "space" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn users_are_ensured_once_and_deleted() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let again = c.ensure_user(&person("alice")).await.unwrap();
    assert_eq!(again, fx.user);
    // Newer oCIS leaves `mail` out of its answers; it was sent and stored all the same.
    assert_eq!(fx.user.mail, None);
    let stored = fx.fake.state().users[&fx.user.id]["mail"].clone();
    assert_eq!(stored, "alice@acme.example");
    assert_eq!(fx.fake.state().users.len(), 1);
    assert_eq!(fx.fake.state().passwords[&fx.user.id], "files-pw-Kk2!");
    let mut bad = person("bob");
    bad.mail = "bob-at-nowhere".into();
    let err = c.ensure_user(&bad).await.unwrap_err();
    assert!(matches!(err, OcisError::Invalid { .. }), "{err:?}");
    c.delete_user(&fx.user.id).await.unwrap();
    c.delete_user(&fx.user.id).await.unwrap();
    assert!(fx.fake.state().users.is_empty());
    assert!(
        fx.fake.state().grants.is_empty(),
        "the grant went with the user"
    );
}

#[tokio::test]
async fn space_membership_is_granted_once_and_changed_in_place() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let root = format!("/graph/v1beta1/drives/{}/root", fx.space.id);
    {
        let s = fx.fake.state();
        assert_eq!(s.grants.len(), 1);
        assert_eq!(s.grants[0].1["roles"][0], SpaceRole::Editor.id());
    }
    c.add_user_to_space(&fx.space.id, &fx.user.id, SpaceRole::Editor)
        .await
        .unwrap();
    assert!(
        fx.fake
            .calls_to(Method::POST, &format!("{root}/invite"))
            .is_empty()
    );
    c.add_user_to_space(&fx.space.id, &fx.user.id, SpaceRole::Manager)
        .await
        .unwrap();
    {
        let s = fx.fake.state();
        assert_eq!(s.grants.len(), 1);
        assert_eq!(s.grants[0].1["roles"][0], SpaceRole::Manager.id());
    }
    let bob = c.ensure_user(&person("bob")).await.unwrap();
    c.add_user_to_space(&fx.space.id, &bob.id, SpaceRole::Viewer)
        .await
        .unwrap();
    let sent = fx.fake.calls_to(Method::POST, &format!("{root}/invite"))[0].json();
    assert_eq!(sent["recipients"][0]["@libre.graph.recipient.type"], "user");
    assert_eq!(sent["roles"][0], "a8d5fe5e-96e3-418d-825b-534dbdf22b99");
    let err = c
        .add_user_to_space(&fx.space.id, "no-such-user", SpaceRole::Viewer)
        .await
        .unwrap_err();
    assert!(matches!(err, OcisError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn space_grants_are_taken_back_and_users_disabled() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let bob = c.ensure_user(&person("bob")).await.unwrap();
    c.add_user_to_space(&fx.space.id, &bob.id, SpaceRole::Viewer)
        .await
        .unwrap();
    fx.fake.clear_calls();
    c.remove_user_from_space(&fx.space.id, &fx.user.id)
        .await
        .unwrap();
    let root = format!("/graph/v1beta1/drives/{}/root", fx.space.id);
    let deletes: Vec<_> = fx
        .fake
        .calls()
        .into_iter()
        .filter(|call| call.method == Method::DELETE)
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].path.starts_with(&format!("{root}/permissions/")));
    {
        let s = fx.fake.state();
        assert_eq!(s.grants.len(), 1, "bob's grant stays");
        assert_eq!(s.grants[0].1["grantedToV2"]["user"]["id"], bob.id.as_str());
        assert!(s.users.contains_key(&fx.user.id), "the user stays");
    }
    // Already out: nothing to delete, no error.
    fx.fake.clear_calls();
    c.remove_user_from_space(&fx.space.id, &fx.user.id)
        .await
        .unwrap();
    assert!(
        fx.fake
            .calls()
            .iter()
            .all(|call| call.method == Method::GET)
    );
    let err = c
        .remove_user_from_space("no-such$drive", &fx.user.id)
        .await
        .unwrap_err();
    assert!(matches!(err, OcisError::NotFound { .. }), "{err:?}");

    c.set_user_enabled(&bob.id, false).await.unwrap();
    assert_eq!(fx.fake.state().users[&bob.id]["accountEnabled"], false);
    let sent = fx
        .fake
        .calls_to(Method::PATCH, &format!("/graph/v1.0/users/{}", bob.id));
    assert_eq!(
        sent[0].json(),
        serde_json::json!({ "accountEnabled": false })
    );
    c.set_user_enabled(&bob.id, true).await.unwrap();
    assert_eq!(fx.fake.state().users[&bob.id]["accountEnabled"], true);
    let err = c.set_user_enabled("no-such-user", true).await.unwrap_err();
    assert!(matches!(err, OcisError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn creating_posts_are_not_retried() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let fail = |path: &str| {
        let kind = FaultKind::Status {
            status: 503,
            retry_after: None,
        };
        fx.fake.fail_next_on(1, kind, Method::POST, path);
    };
    let down = |e: &OcisError| matches!(e, OcisError::Call(CallError::Unavailable { status: 503 }));
    let mut other = space(None, GIB);
    other.name = "other".into();
    fail("/graph/v1.0/drives");
    assert!(down(&c.ensure_project_space(&other).await.unwrap_err()));
    fail("/graph/v1.0/users");
    assert!(down(&c.ensure_user(&person("carol")).await.unwrap_err()));
    let dave = c.ensure_user(&person("dave")).await.unwrap();
    let invite = format!("/graph/v1beta1/drives/{}/root/invite", fx.space.id);
    fail(&invite);
    assert!(down(
        &c.add_user_to_space(&fx.space.id, &dave.id, SpaceRole::Viewer)
            .await
            .unwrap_err()
    ));
    for path in ["/graph/v1.0/drives", invite.as_str()] {
        assert_eq!(fx.fake.calls_to(Method::POST, path).len(), 1, "{path}");
    }
    assert_eq!(
        fx.fake.calls_to(Method::POST, "/graph/v1.0/users").len(),
        2,
        "carol once, dave once"
    );
    let s = fx.fake.state();
    assert_eq!((s.drives.len(), s.users.len(), s.grants.len()), (1, 2, 1));
}

/// Finding 2 of issue 25: older oCIS refuses a user without `mail` (400 "missing required
/// Attribute: 'mail'"). The adapter always sends it, and the refusal is a typed error.
#[tokio::test]
async fn older_ocis_gets_the_mail_it_requires() {
    let fake = fake::spawn().await;
    fake.state().require_mail = true;
    fake.state().show_mail = true;
    let c = client(&fake);
    let user = c.ensure_user(&person("carol")).await.unwrap();
    assert_eq!(user.mail.as_deref(), Some("carol@acme.example"));
    let sent = fake.calls_to(Method::POST, "/graph/v1.0/users")[0].json();
    assert_eq!(sent["mail"], "carol@acme.example");
    // An empty address is refused as missing: a typed error, BAD_USER_INPUT on `mail`.
    let mut blank = person("dan");
    blank.mail = String::new();
    let err = c.ensure_user(&blank).await.unwrap_err();
    assert!(
        matches!(err, OcisError::MissingAttribute { ref attribute, .. } if attribute == "mail"),
        "{err:?}"
    );
    let app = platform_api::AppError::from(err);
    assert_eq!(app.code(), platform_api::ErrorCode::BadUserInput);
    assert_eq!(fake.state().users.len(), 1);
}

/// Finding 4 of issue 25: older oCIS answers a missing create-space or set-quota permission
/// with 401 `notAllowed` — a denial, not refused credentials.
#[tokio::test]
async fn a_missing_space_permission_is_a_denial() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    fake.state().deny_create_space = true;
    let err = c
        .ensure_project_space(&space(None, 10 * GIB))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OcisError::Denied { ref code, .. } if code == "notAllowed"),
        "{err:?}"
    );
    assert_eq!(
        fake.calls_to(Method::POST, "/graph/v1.0/drives").len(),
        1,
        "not retried"
    );
    fake.state().deny_create_space = false;
    let made = c
        .ensure_project_space(&space(None, 10 * GIB))
        .await
        .unwrap();
    fake.state().deny_set_quota = true;
    let err = c
        .ensure_project_space(&space(Some(&made.id), 20 * GIB))
        .await
        .unwrap_err();
    assert!(matches!(err, OcisError::Denied { .. }), "{err:?}");
    assert!(!matches!(
        err,
        OcisError::Call(CallError::Unauthorized { .. })
    ));
}

/// Finding 4 of issue 25: an id oCIS cannot parse is answered 422; the adapter reads it as
/// "no such space" and falls back to the name.
#[tokio::test]
async fn an_unparsable_drive_id_is_not_found_and_the_name_wins() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let err = c.space_usage("not-a-drive-id").await.unwrap_err();
    assert!(
        matches!(err, OcisError::InvalidId { what: "space", .. }),
        "{err:?}"
    );
    assert_eq!(
        platform_api::AppError::from(err).code(),
        platform_api::ErrorCode::NotFound
    );
    let made = c
        .ensure_project_space(&space(Some("not-a-drive-id"), 10 * GIB))
        .await
        .unwrap();
    assert_eq!(fake.state().drives.len(), 1);
    assert!(made.id.contains('$'));
}

/// Finding 5 of issue 25: the spec's `user` fields the fake used to refuse are accepted, and
/// `$filter` takes `id eq …` too.
#[tokio::test]
async fn spec_user_fields_and_drive_filters_are_understood() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let made = c.ensure_project_space(&space(None, GIB)).await.unwrap();
    let http = reqwest::Client::new();
    let body = serde_json::json!({"displayName": "Eve", "onPremisesSamAccountName": "eve",
        "mail": "eve@acme.example", "externalID": "ext-1",
        "identities": [{"issuer": "idp.example", "issuerAssignedId": "eve"}]});
    let created = http
        .post(format!("{}/graph/v1.0/users", fake.url))
        .bearer_auth(fake::TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let filter = format!("driveType eq 'project' and id eq '{}'", made.id);
    let listed: serde_json::Value = http
        .get(format!("{}/graph/v1.0/drives", fake.url))
        .query(&[("$filter", filter)])
        .bearer_auth(fake::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
}

/// A request outside the libregraph contract is caught by the fake, naming the operation.
#[tokio::test]
async fn the_fake_catches_requests_outside_the_contract() {
    let fake = fake::spawn().await;
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        http.request(method, format!("{}{path}", fake.url))
            .bearer_auth(fake::TOKEN)
            .json(&body)
            .send()
    };
    let missing = send(
        Method::POST,
        "/graph/v1.0/users",
        serde_json::json!({"displayName": "X"}),
    );
    let bad_type = send(
        Method::POST,
        "/graph/v1.0/drives",
        serde_json::json!({"name": "x", "description": 7}),
    );
    let unknown = send(Method::GET, "/graph/v1.0/nowhere", serde_json::json!(null));
    assert_eq!(missing.await.unwrap().status(), 400);
    assert_eq!(bad_type.await.unwrap().status(), 400);
    assert_eq!(unknown.await.unwrap().status(), 404);
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(
        violations[0].contains("CreateUser") && violations[0].contains("onPremisesSamAccountName")
    );
    assert!(violations[1].contains("CreateDrive") && violations[1].contains("body.description"));
    assert!(violations[2].contains("no libregraph operation has the path /graph/v1.0/nowhere"));
}

/// Every adapter operation and the libregraph v1.0.4 operations it maps to (run against the
/// validating fake: a call outside the contract table is refused and fails the test).
const SPEC_OPERATIONS: [(&str, &[&str]); 7] = [
    ("ensure_project_space", &["GetDrive"]),
    ("space_usage", &["GetDrive"]),
    ("ensure_user", &["GetUser"]),
    ("delete_user", &["DeleteUser"]),
    ("add_user_to_space", &["ListPermissionsSpaceRoot"]),
    (
        "remove_user_from_space",
        &["ListPermissionsSpaceRoot", "DeletePermissionSpaceRoot"],
    ),
    ("set_user_enabled", &["UpdateUser"]),
];

#[tokio::test]
async fn every_operation_maps_to_spec_operations_in_the_table() {
    let table = crate::support::fakes::contract::LIBREGRAPH.operation_ids();
    for (op, spec) in SPEC_OPERATIONS {
        assert!(OPERATIONS.contains(&op), "{op}");
        for id in spec {
            assert!(
                table.contains(id),
                "{op}: {id} is not in the contract table"
            );
        }
        let fx = Fixture::new().await;
        fx.fake.clear_operations();
        run(op, &client(&fx.fake), &fx)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let mut seen = fx.fake.operations();
        seen.dedup();
        assert_eq!(seen, spec, "{op}");
    }
    // Creation paths, from an empty fake.
    let fake = fake::spawn().await;
    let c = client(&fake);
    let made = c.ensure_project_space(&space(None, GIB)).await.unwrap();
    let user = c.ensure_user(&person("zed")).await.unwrap();
    c.add_user_to_space(&made.id, &user.id, SpaceRole::Viewer)
        .await
        .unwrap();
    c.add_user_to_space(&made.id, &user.id, SpaceRole::Editor)
        .await
        .unwrap();
    let mut seen = fake.operations();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "ListAllDrives",
            "CreateDrive",
            "GetUser",
            "CreateUser",
            "ListPermissionsSpaceRoot",
            "InviteSpaceRoot",
            "ListPermissionsSpaceRoot",
            "UpdatePermissionSpaceRoot",
        ]
    );
}
