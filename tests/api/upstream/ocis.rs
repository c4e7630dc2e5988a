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
        mail: Some(format!("{username}@acme.example")),
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

const OPERATIONS: [&str; 5] = [
    "ensure_project_space",
    "space_usage",
    "ensure_user",
    "delete_user",
    "add_user_to_space",
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
    assert_eq!(fx.user.mail.as_deref(), Some("alice@acme.example"));
    assert_eq!(fx.fake.state().users.len(), 1);
    assert_eq!(fx.fake.state().passwords[&fx.user.id], "files-pw-Kk2!");
    let mut bad = person("bob");
    bad.mail = Some("bob-at-nowhere".into());
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
