//! Mailbox accounts.

use platform_api::upstream::Secret;
use platform_api::upstream::stalwart::*;
use serde_json::json;

use super::{Fixture, client, mailbox};

#[tokio::test]
async fn ensure_account_twice_creates_one_account() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let again = c
        .ensure_account(&mailbox("alice", &fx.domain.id))
        .await
        .unwrap();
    assert_eq!(again, fx.account);
    assert_eq!(fx.account.email_address, "alice@acme.example");
    let other = c
        .ensure_account(&mailbox("alice", &fx.empty.id))
        .await
        .unwrap();
    assert_ne!(other.id, fx.account.id, "same local part, other domain");
    let s = fx.fake.state();
    assert_eq!(s.accounts.len(), 2);
    let stored = &s.accounts[&fx.account.id];
    assert_eq!(stored["@type"], "User");
    assert_eq!(stored["quotas"], json!({"maxDiskQuota": 1u64 << 30}));
    assert_eq!(
        stored["credentials"]["0"]["secret"], "********",
        "stored hashed"
    );
    assert_eq!(s.passwords[&fx.account.id], "Tr0ub4dor&3-horse");
}

#[tokio::test]
async fn refused_accounts_carry_the_set_error() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let mut weak = mailbox("bob", &fx.domain.id);
    weak.password = Secret::new("123");
    let err = c.ensure_account(&weak).await.unwrap_err();
    assert!(
        matches!(&err, StalwartError::Set { kind: SetErrorKind::InvalidProperties, properties, .. }
            if properties == &["secret"]),
        "{err:?}"
    );
    let err = c.ensure_account(&mailbox("bob", "d999")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StalwartError::Set {
                kind: SetErrorKind::InvalidForeignKey,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fx.fake.state().accounts.len(), 1);
}

#[tokio::test]
async fn accounts_are_updated_and_disabled_by_permissions() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let id = fx.account.id.as_str();
    let update = AccountUpdate {
        password: Some(Secret::new("n3w-correct-horse")),
        quota_bytes: Some(Some(5 << 30)),
        enabled: Some(false),
        description: Some("Alice A.".into()),
        aliases: None,
    };
    c.update_account(id, &update).await.unwrap();
    {
        let s = fx.fake.state();
        let stored = &s.accounts[id];
        assert_eq!(s.passwords[id], "n3w-correct-horse");
        assert_eq!(stored["quotas"]["maxDiskQuota"], 5u64 << 30);
        assert_eq!(stored["description"], "Alice A.");
        assert_eq!(
            stored["permissions"],
            json!({"@type": "Merge", "enabledPermissions": {},
                   "disabledPermissions": {"authenticate": true}})
        );
        assert_eq!(
            stored["credentials"].as_object().unwrap().len(),
            1,
            "one password"
        );
    }
    let enable = AccountUpdate {
        enabled: Some(true),
        quota_bytes: Some(None),
        ..AccountUpdate::default()
    };
    c.update_account(id, &enable).await.unwrap();
    let stored = fx.fake.state().accounts[id].clone();
    assert_eq!(stored["permissions"], json!({"@type": "Inherit"}));
    assert_eq!(stored["quotas"], json!({}));

    let weak = AccountUpdate {
        password: Some(Secret::new("short")),
        ..AccountUpdate::default()
    };
    let err = c.update_account(id, &weak).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StalwartError::Set {
                kind: SetErrorKind::InvalidProperties,
                ..
            }
        ),
        "{err:?}"
    );
    let err = c.update_account("a999", &enable).await.unwrap_err();
    assert!(
        matches!(err, StalwartError::NotFound { what: "account" }),
        "{err:?}"
    );
    c.update_account(id, &AccountUpdate::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_an_account_twice_is_fine() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    c.delete_account(&fx.account.id).await.unwrap();
    c.delete_account(&fx.account.id).await.unwrap();
    assert!(fx.fake.state().accounts.is_empty());
}

#[tokio::test]
async fn aliases_are_replaced_and_taken_addresses_refused() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let alias = |name: &str, domain: &str| EmailAlias {
        name: name.into(),
        domain_id: domain.into(),
    };
    let update = AccountUpdate {
        aliases: Some(vec![
            alias("info", &fx.domain.id),
            alias("alice", &fx.empty.id),
        ]),
        ..AccountUpdate::default()
    };
    c.update_account(&fx.account.id, &update).await.unwrap();
    c.update_account(&fx.account.id, &update).await.unwrap();
    let stored = fx.fake.state().accounts[&fx.account.id]["aliases"].clone();
    assert_eq!(
        stored,
        json!({"0": {"name": "info", "domainId": fx.domain.id, "enabled": true},
               "1": {"name": "alice", "domainId": fx.empty.id, "enabled": true}})
    );

    let bob = c
        .ensure_account(&mailbox("bob", &fx.domain.id))
        .await
        .unwrap();
    let steal = AccountUpdate {
        aliases: Some(vec![alias("info", &fx.domain.id)]),
        ..AccountUpdate::default()
    };
    let err = c.update_account(&bob.id, &steal).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StalwartError::Set {
                kind: SetErrorKind::PrimaryKeyViolation,
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .update_account(
            &bob.id,
            &AccountUpdate {
                aliases: Some(vec![alias("x", "d999")]),
                ..AccountUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StalwartError::Set {
                kind: SetErrorKind::InvalidForeignKey,
                ..
            }
        ),
        "{err:?}"
    );
    let clear = AccountUpdate {
        aliases: Some(Vec::new()),
        ..AccountUpdate::default()
    };
    c.update_account(&fx.account.id, &clear).await.unwrap();
    c.update_account(&bob.id, &steal).await.unwrap();
}
