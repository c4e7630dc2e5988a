//! The Stalwart adapter against the Stalwart fake: every operation's timeout, retry and
//! refused-credentials behaviour here; domains and accounts in the submodules.

mod accounts;
mod contract;
mod domains;

use axum::http::Method;
use platform_api::upstream::config::StalwartConfig;
use platform_api::upstream::stalwart::*;
use platform_api::upstream::{CallError, Credentials, HttpSettings, Secret};

use super::{SLOW, impatient, settings};
use crate::support::fakes::stalwart::{self as fake, StalwartState};
use crate::support::fakes::{Fake, FaultKind};

/// A client with the given credentials and settings.
pub fn client_with(
    fake: &Fake<StalwartState>,
    credentials: Credentials,
    http: &HttpSettings,
) -> HttpStalwartClient {
    let config = StalwartConfig {
        url: fake.url.parse().unwrap(),
        credentials,
    };
    HttpStalwartClient::new(&config, http).unwrap()
}

/// A client using the administrator's password (Basic).
pub fn client(fake: &Fake<StalwartState>) -> HttpStalwartClient {
    let credentials = Credentials::Basic {
        username: fake::ADMIN.into(),
        password: Secret::new(fake::ADMIN_PASSWORD),
    };
    client_with(fake, credentials, &settings())
}

/// A mailbox to create on `domain_id`.
pub fn mailbox(name: &str, domain_id: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        domain_id: domain_id.into(),
        password: Secret::new("Tr0ub4dor&3-horse"),
        quota_bytes: Some(1 << 30),
        description: Some(format!("{name} Example")),
    }
}

/// A used domain with one account, and an empty domain; the calls are forgotten.
pub struct Fixture {
    pub fake: Fake<StalwartState>,
    pub domain: Domain,
    pub empty: Domain,
    pub account: Account,
}

impl Fixture {
    pub async fn new() -> Self {
        let fake = fake::spawn().await;
        let c = client(&fake);
        let domain = c.ensure_domain("acme.example").await.unwrap();
        let empty = c.ensure_domain("empty.example").await.unwrap();
        let account = c
            .ensure_account(&mailbox("alice", &domain.id))
            .await
            .unwrap();
        fake.clear_calls();
        Self {
            fake,
            domain,
            empty,
            account,
        }
    }
}

const OPERATIONS: [&str; 7] = [
    "ensure_domain",
    "list_domains",
    "delete_domain",
    "domain_dns",
    "ensure_account",
    "update_account",
    "delete_account",
];

async fn run(op: &str, c: &dyn StalwartClient, fx: &Fixture) -> Result<(), StalwartError> {
    match op {
        "ensure_domain" => c.ensure_domain("acme.example").await.map(drop),
        "list_domains" => c.list_domains().await.map(drop),
        "delete_domain" => c.delete_domain(&fx.empty.id).await,
        "domain_dns" => c.domain_dns(&fx.domain.id).await.map(drop),
        "ensure_account" => c
            .ensure_account(&mailbox("alice", &fx.domain.id))
            .await
            .map(drop),
        "update_account" => {
            let update = AccountUpdate {
                quota_bytes: Some(Some(2 << 30)),
                ..AccountUpdate::default()
            };
            c.update_account(&fx.account.id, &update).await
        }
        "delete_account" => c.delete_account(&fx.account.id).await,
        other => unreachable!("{other}"),
    }
}

#[tokio::test]
async fn every_operation_times_out() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        let c = client_with(
            &fx.fake,
            Credentials::Bearer(Secret::new(fake::API_KEY)),
            &impatient(),
        );
        c.list_domains().await.unwrap();
        fx.fake.clear_calls();
        fx.fake.delay_all(SLOW);
        let err = run(op, &c, &fx).await.unwrap_err();
        assert!(
            matches!(err, StalwartError::Call(CallError::Timeout(_))),
            "{op}: {err:?}"
        );
        assert_eq!(fx.fake.calls().len(), 1, "{op}: a timeout is not retried");
    }
}

#[tokio::test]
async fn every_operation_is_retried_after_a_503() {
    // The session is discovered first; then every JMAP request of these operations only
    // reads, sets absolute values or destroys: all retry-safe.
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        let c = client(&fx.fake);
        c.list_domains().await.unwrap();
        fx.fake.clear_calls();
        fx.fake.fail_status(1, 503);
        run(op, &c, &fx)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        let calls = fx.fake.calls();
        assert!(calls[0].faulted, "{op}");
        assert_eq!(calls[1].body, calls[0].body, "{op}: the same request again");
    }
}

#[tokio::test]
async fn session_discovery_is_retried_too() {
    let fx = Fixture::new().await;
    fx.fake.fail_status(1, 502);
    client(&fx.fake).list_domains().await.unwrap();
    let paths: Vec<_> = fx.fake.calls().iter().map(|c| c.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/jmap",
            "/.well-known/jmap",
            "/jmap/session",
            "/jmap/"
        ]
    );
}

#[tokio::test]
async fn every_operation_reports_refused_credentials() {
    for op in OPERATIONS {
        let fx = Fixture::new().await;
        let wrong = Credentials::Basic {
            username: fake::ADMIN.into(),
            password: Secret::new("wrong-password"),
        };
        let err = run(op, &client_with(&fx.fake, wrong, &settings()), &fx)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StalwartError::Call(CallError::Unauthorized { status: 401 })
            ),
            "{op}: {err:?}"
        );
        let paths: Vec<_> = fx.fake.calls().iter().map(|c| c.path.clone()).collect();
        assert_eq!(
            paths,
            ["/.well-known/jmap", "/jmap/session"],
            "{op}: a 401 is not retried"
        );
    }
}

#[tokio::test]
async fn creations_are_not_retried() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    c.list_domains().await.unwrap();
    let pass = FaultKind::Delay(std::time::Duration::ZERO);
    let fail = FaultKind::Status {
        status: 503,
        retry_after: None,
    };
    // The lookup passes, the creation fails once.
    fake.fail_next_on(1, pass.clone(), Method::POST, "/jmap/");
    fake.fail_next_on(1, fail.clone(), Method::POST, "/jmap/");
    let err = c.ensure_domain("acme.example").await.unwrap_err();
    assert!(
        matches!(
            err,
            StalwartError::Call(CallError::Unavailable { status: 503 })
        ),
        "{err:?}"
    );
    let domain = c.ensure_domain("acme.example").await.unwrap();
    fake.fail_next_on(1, pass, Method::POST, "/jmap/");
    fake.fail_next_on(1, fail, Method::POST, "/jmap/");
    assert!(c.ensure_account(&mailbox("bob", &domain.id)).await.is_err());
    c.ensure_account(&mailbox("bob", &domain.id)).await.unwrap();
    let creations = fake
        .calls_to(Method::POST, "/jmap/")
        .iter()
        .filter(|call| call.json()["methodCalls"][0][1].get("create").is_some())
        .count();
    assert_eq!(
        creations, 4,
        "two failed creations, each sent once, then two that worked"
    );
    assert_eq!(fake.state().domains.len(), 1);
    assert_eq!(fake.state().accounts.len(), 1);
}
