//! The Stalwart fake held to the Stalwart part of the contract table (0.16 registry
//! schema): calls outside it are caught naming the object and method, and every adapter
//! operation maps to JMAP methods the table has.

use platform_api::upstream::Secret;
use platform_api::upstream::stalwart::*;
use serde_json::{Value, json};

use super::{Fixture, OPERATIONS, client, mailbox, run};
use crate::support::fakes::stalwart::contract::STALWART;
use crate::support::fakes::stalwart::{self as fake};

/// Sends one JMAP request straight to the fake.
async fn jmap(url: &str, calls: Value) -> Value {
    let body = json!({
        "using": ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"],
        "methodCalls": calls,
    });
    reqwest::Client::new()
        .post(format!("{url}/jmap/"))
        .bearer_auth(fake::API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Calls outside the table are caught by the fake, each violation naming the object and
/// method, and answered as the server refuses them; nothing is written.
#[tokio::test]
async fn the_fake_catches_requests_outside_the_contract() {
    let fake = fake::spawn().await;
    let domain = fake.state().seed_domain("seeded.example");
    let a = fake::ACCOUNT;
    let answer = jmap(
        &fake.url,
        json!([
            ["x:Domain/set", {"accountId": a, "create": {"d": {"nam": "x.example"}}}, "c0"],
            ["x:Account/set", {"accountId": a, "create": {"u": {
                "@type": "User", "name": "bob", "domainId": domain,
                "quotas": {"maxBananas": 1}, "emailAddress": "bob@seeded.example",
                "credentials": {"0": {"@type": "Password"}},
            }}}, "c1"],
            ["x:Domain/set", {"accountId": a, "update": {&domain: {
                "createdAt": "2026-01-01T00:00:00Z",
                "dkimManagement": {"@type": "Sometimes"},
            }}}, "c2"],
            ["x:Domain/frobnicate", {"accountId": a}, "c3"],
            ["x:Mailbox/get", {"accountId": a}, "c4"],
            ["x:Domain/get", {"accountId": a, "properties": ["id", "colour"]}, "c5"],
            ["x:Account/query", {"accountId": a, "filter": {"shoeSize": 44}}, "c6"],
            ["x:Domain/get", {"accountId": a, "ids": [&domain], "sort": []}, "c7"],
        ]),
    )
    .await;
    let r = &answer["methodResponses"];
    let not_created = &r[0][1]["notCreated"]["d"];
    assert_eq!(not_created["type"], "invalidProperties", "{r}");
    assert_eq!(not_created["properties"], json!(["nam", "name"]), "{r}");
    let not_created = &r[1][1]["notCreated"]["u"];
    assert_eq!(not_created["type"], "invalidProperties", "{r}");
    let mut properties: Vec<&str> = not_created["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    properties.sort_unstable();
    assert_eq!(
        properties,
        ["credentials/0/secret", "emailAddress", "quotas/maxBananas"],
        "{r}"
    );
    let not_updated = &r[2][1]["notUpdated"][&domain];
    assert_eq!(
        not_updated["properties"],
        json!(["createdAt", "dkimManagement/@type"]),
        "{r}"
    );
    for (i, kind) in [
        (3, "unknownMethod"),
        (4, "unknownMethod"),
        (5, "invalidArguments"),
        (6, "unsupportedFilter"),
        (7, "invalidArguments"),
    ] {
        assert_eq!(r[i][0], "error", "{i}: {r}");
        assert_eq!(r[i][1]["type"], kind, "{i}: {r}");
    }
    {
        let s = fake.state();
        assert_eq!(s.domains.len(), 1, "nothing created");
        assert!(s.accounts.is_empty());
        assert!(
            s.domains[&domain]["createdAt"] != "2026-01-01T00:00:00Z",
            "nothing updated"
        );
    }

    let violations = fake.take_violations();
    assert_eq!(violations.len(), 8, "{violations:#?}");
    let expect = [
        ("x:Domain/set create d", "nam: unknown property"),
        ("x:Domain/set create d", "name: required property missing"),
        (
            "x:Account/set create u",
            "\"maxBananas\" is not a StorageQuota value",
        ),
        (
            "x:Account/set create u",
            "emailAddress: server-set property",
        ),
        (
            "x:Account/set create u",
            "credentials/0/secret: required property missing",
        ),
        ("x:Domain/set update", "createdAt: server-set property"),
        ("x:Domain/set update", "\"Sometimes\" is not one of"),
        (
            "x:Domain/frobnicate (c3)",
            "x:Domain has no \"frobnicate\" method",
        ),
        (
            "x:Mailbox/get (c4)",
            "x:Mailbox is not an object in the table",
        ),
        (
            "x:Domain/get (c5)",
            "\"colour\" is not a property of x:Domain",
        ),
        (
            "x:Account/query (c6)",
            "shoeSize is not a filter of x:Account",
        ),
        ("x:Domain/get (c7)", "sort is not an argument of /get"),
    ];
    for (names, what) in expect {
        assert!(
            violations
                .iter()
                .any(|v| v.contains(names) && v.contains(what)),
            "{names} / {what}: {violations:#?}"
        );
    }
    assert!(
        violations
            .iter()
            .all(|v| v.starts_with("stalwart contract: x:"))
    );
}

/// Every adapter operation and the JMAP methods (registry object and method) it calls when
/// the objects exist. Each runs against the validating fake: a call the table does not have
/// is refused there and fails the test, and the methods hit must be exactly these.
const SPEC_OPERATIONS: [(&str, &[&str]); 7] = [
    ("ensure_domain", &["x:Domain/query", "x:Domain/get"]),
    ("list_domains", &["x:Domain/query", "x:Domain/get"]),
    ("delete_domain", &["x:Domain/set"]),
    (
        "domain_dns",
        &[
            "x:Domain/get",
            "x:DkimSignature/query",
            "x:DkimSignature/get",
        ],
    ),
    ("ensure_account", &["x:Account/query", "x:Account/get"]),
    ("update_account", &["x:Account/set"]),
    ("delete_account", &["x:Account/set"]),
];

#[tokio::test]
async fn every_operation_maps_to_spec_operations_in_the_table() {
    let table = STALWART.methods();
    assert_eq!(
        SPEC_OPERATIONS.len(),
        OPERATIONS.len(),
        "every adapter operation is listed"
    );
    for (op, spec) in SPEC_OPERATIONS {
        assert!(OPERATIONS.contains(&op), "{op}");
        for method in spec {
            assert!(
                table.iter().any(|m| m == method),
                "{op}: {method} is not in the table"
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
    // Creation paths and every part of an account update, from an empty fake.
    let fake = fake::spawn().await;
    let c = client(&fake);
    let domain = c.ensure_domain("new.example").await.unwrap();
    let account = c.ensure_account(&mailbox("zed", &domain.id)).await.unwrap();
    let update = AccountUpdate {
        password: Some(Secret::new("An0ther-l0ng-pass")),
        quota_bytes: Some(None),
        enabled: Some(false),
        description: Some("Zed".into()),
        aliases: Some(vec![EmailAlias {
            name: "z".into(),
            domain_id: domain.id.clone(),
        }]),
    };
    c.update_account(&account.id, &update).await.unwrap();
    let mut seen = fake.operations();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "x:Domain/query",
            "x:Domain/get",
            "x:Domain/set",
            "x:Account/query",
            "x:Account/get",
            "x:Account/set",
            "x:Account/get",
            "x:Account/set",
        ]
    );
    let stored = &fake.state().accounts[&account.id];
    assert_eq!(stored["permissions"]["@type"], "Merge");
    assert_eq!(stored["aliases"]["0"]["name"], "z");
}
