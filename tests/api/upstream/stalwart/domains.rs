//! Domains, DKIM and the DNS records to publish.

use axum::http::Method;
use platform_api::upstream::stalwart::*;
use platform_api::upstream::{Credentials, Secret};

use super::{Fixture, client, client_with};
use crate::support::fakes::stalwart as fake;

#[tokio::test]
async fn the_session_is_discovered_once_and_names_the_account() {
    let fake = fake::spawn().await;
    let c = client_with(
        &fake,
        Credentials::Bearer(Secret::new(fake::API_KEY)),
        &super::settings(),
    );
    c.ensure_domain("acme.example").await.unwrap();
    c.list_domains().await.unwrap();
    let calls = fake.calls();
    let paths: Vec<_> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/jmap",
            "/jmap/session",
            "/jmap/",
            "/jmap/",
            "/jmap/"
        ]
    );
    for call in &calls[2..] {
        let body = call.json();
        assert_eq!(
            body["using"],
            serde_json::json!(["urn:ietf:params:jmap:core", "urn:stalwart:jmap"])
        );
        for invocation in body["methodCalls"].as_array().unwrap() {
            assert_eq!(invocation[1]["accountId"], fake::ACCOUNT);
        }
        assert_eq!(call.header("content-type"), Some("application/json"));
    }
    let lookup = calls[2].json();
    assert_eq!(lookup["methodCalls"][1][1]["#ids"]["resultOf"], "c0");
    assert_eq!(lookup["methodCalls"][1][1]["#ids"]["path"], "/ids");
}

#[tokio::test]
async fn ensure_domain_twice_creates_one_domain_with_dkim() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    // The name filter matches substrings: a longer name must not be taken for ours.
    let sub = c.ensure_domain("mail.acme.example").await.unwrap();
    let first = c.ensure_domain("ACME.example.").await.unwrap();
    let second = c.ensure_domain("acme.example").await.unwrap();
    assert_ne!(first.id, sub.id);
    assert_eq!(first, second);
    assert_eq!(first.name, "acme.example");
    assert_eq!(fake.state().domains.len(), 2);
    let creations = fake
        .calls_to(Method::POST, "/jmap/")
        .iter()
        .filter(|call| call.json()["methodCalls"][0][0] == "x:Domain/set")
        .count();
    assert_eq!(creations, 2);
    let mut names: Vec<_> = c
        .list_domains()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, ["acme.example", "mail.acme.example"]);
}

#[tokio::test]
async fn a_domain_created_by_someone_else_meanwhile_is_adopted() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    // Another job (provisioning's step and the domains area both ensure a primary domain)
    // creates the name between our lookup and our create.
    fake.state().another_client_creates_next_domain = true;
    let domain = c.ensure_domain("race.example").await.unwrap();
    assert_eq!(domain.name, "race.example");
    {
        let state = fake.state();
        assert_eq!(state.domains.len(), 1, "no second domain");
        assert!(
            state.domains.contains_key(&domain.id),
            "the other client's domain is ours"
        );
    }
    // Any other refusal still fails: an invalid name is not adopted.
    let err = c.ensure_domain("").await.unwrap_err();
    assert!(
        matches!(
            err,
            StalwartError::Set {
                kind: SetErrorKind::InvalidProperties,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_dns_records_to_publish_are_read_back() {
    let fx = Fixture::new().await;
    let dns = client(&fx.fake).domain_dns(&fx.domain.id).await.unwrap();
    assert_eq!(dns.domain, fx.domain);
    assert_eq!(dns.dkim.len(), 2);
    let find = |name: &str, kind: &str| {
        dns.records
            .iter()
            .find(|r| r.name == name && r.kind == kind)
            .unwrap_or_else(|| panic!("{name} {kind} in {:#?}", dns.records))
    };
    assert_eq!(find("acme.example.", "MX").value, "10 mail.acme.example.");
    assert_eq!(find("acme.example.", "TXT").value, "v=spf1 mx -all");
    assert_eq!(
        find("_dmarc.acme.example.", "TXT").value,
        "v=DMARC1; p=reject; rua=mailto:postmaster@acme.example"
    );
    for key in &dns.dkim {
        let algorithm = if key.algorithm == "Dkim1RsaSha256" {
            "rsa"
        } else {
            "ed25519"
        };
        let record = find(&format!("{}._domainkey.acme.example.", key.selector), "TXT");
        assert_eq!(
            record.value,
            format!("v=DKIM1; k={algorithm}; h=sha256; p={}", key.public_key)
        );
        assert_eq!(key.stage, "active");
    }
    assert!(
        dns.zone_file.contains("IN TXT (\n"),
        "the RSA key is split: {}",
        dns.zone_file
    );
    let err = client(&fx.fake).domain_dns("d999").await.unwrap_err();
    assert!(
        matches!(err, StalwartError::NotFound { what: "domain" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_domain_in_use_is_not_deleted() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let err = c.delete_domain(&fx.domain.id).await.unwrap_err();
    assert!(
        matches!(&err, StalwartError::DomainInUse { linked } if linked == &["1 mailbox".to_owned()]),
        "{err:?}"
    );
    assert!(fx.fake.state().domains.contains_key(&fx.domain.id));
    c.delete_account(&fx.account.id).await.unwrap();
    c.delete_domain(&fx.domain.id).await.unwrap();
    c.delete_domain(&fx.domain.id).await.unwrap();
    let s = fx.fake.state();
    assert!(!s.domains.contains_key(&fx.domain.id));
    assert!(
        s.dkim
            .values()
            .all(|k| k["domainId"] != fx.domain.id.as_str())
    );
}

#[tokio::test]
async fn a_duplicate_domain_is_a_primary_key_violation() {
    // Reached only when another writer creates the name between our lookup and creation;
    // simulated by creating it behind the client's back with a different spelling the
    // lookup cannot see (the fake's filter is case-sensitive, creation is not).
    let fake = fake::spawn().await;
    let c = client(&fake);
    c.ensure_domain("acme.example").await.unwrap();
    fake.state()
        .domains
        .values_mut()
        .for_each(|d| d["name"] = serde_json::json!("ACME.example"));
    let err = c.ensure_domain("Acme.Example").await.unwrap_err();
    assert!(
        matches!(
            err,
            StalwartError::Set {
                what: "domain",
                kind: SetErrorKind::PrimaryKeyViolation,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Finding 1 of issue 25: past 500 domains one `x:Domain/get` of every id is refused
/// (`requestTooLarge`, the server's `maxObjectsInGet`); the adapter pages the query instead.
#[tokio::test]
async fn listing_1200_domains_returns_all_of_them() {
    let fake = fake::spawn().await;
    {
        let mut s = fake.state();
        for i in 0..1_200 {
            s.seed_domain(&format!("d{i:04}.example"));
        }
    }
    let domains = client(&fake).list_domains().await.unwrap();
    assert_eq!(domains.len(), 1_200);
    let names: std::collections::BTreeSet<_> = domains.iter().map(|d| d.name.clone()).collect();
    assert_eq!(names.len(), 1_200, "no domain twice");
    assert!(names.contains("d0000.example") && names.contains("d1199.example"));
    // No get asked for more than the session's maxObjectsInGet.
    for call in fake.calls_to(Method::POST, "/jmap/") {
        let body = call.json();
        for invocation in body["methodCalls"].as_array().unwrap() {
            if invocation[0] == "x:Domain/query" {
                let limit = invocation[1]["limit"].as_u64();
                assert!(limit.is_some_and(|l| l <= 500), "{invocation}");
            }
        }
    }
}

#[tokio::test]
async fn the_fake_refuses_a_get_of_more_than_500_ids() {
    let fake = fake::spawn().await;
    let ids: Vec<String> = (0..501).map(|i| format!("d{i}")).collect();
    let body = serde_json::json!({
        "using": ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"],
        "methodCalls": [["x:Domain/get", {"accountId": fake::ACCOUNT, "ids": ids}, "c0"]],
    });
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/jmap/", fake.url))
        .bearer_auth(fake::API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["methodResponses"][0][0], "error");
    assert_eq!(answer["methodResponses"][0][1]["type"], "requestTooLarge");
    // Past the session's maxObjectsInGet is outside the contract: the fake records it.
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].contains("x:Domain/get") && violations[0].contains("at most 500 per get"),
        "{violations:#?}"
    );
}

/// Finding 5 of issue 25: the server generates a new domain's DKIM keys in the background,
/// so right after creation the DNS answer has no DKIM key or record yet.
#[tokio::test]
async fn dkim_keys_appear_once_the_background_task_ran() {
    let fake = fake::spawn().await;
    fake.state().dkim_in_background = true;
    let c = client(&fake);
    let domain = c.ensure_domain("later.example").await.unwrap();
    let early = c.domain_dns(&domain.id).await.unwrap();
    assert!(early.dkim.is_empty(), "{:?}", early.dkim);
    assert!(
        !early.zone_file.contains("_domainkey"),
        "{}",
        early.zone_file
    );
    fake.state().run_dkim_task();
    let later = c.domain_dns(&domain.id).await.unwrap();
    assert_eq!(later.dkim.len(), 2);
    assert!(later.zone_file.contains("_domainkey.later.example."));
}
