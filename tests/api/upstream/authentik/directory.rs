//! Groups, users, sessions and authenticators.

use axum::http::Method;
use platform_api::upstream::Secret;
use platform_api::upstream::authentik::*;
use serde_json::json;

use super::{Fixture, client, new_user, tenant_group};
use crate::support::fakes::authentik as fake;

#[tokio::test]
async fn ensure_tenant_group_twice_creates_one_group() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let first = c.ensure_tenant_group(&tenant_group()).await.unwrap();
    let second = c.ensure_tenant_group(&tenant_group()).await.unwrap();
    assert_eq!(first.pk, second.pk);
    assert_eq!(fake.state().groups.len(), 1);
    assert_eq!(first.name, "acme");
    assert_eq!(first.attributes[TENANT_SLUG_ATTRIBUTE], "acme");
    assert_eq!(
        first.attributes[TENANT_ID_ATTRIBUTE],
        tenant_group().tenant_id
    );
    assert_eq!(fake.calls_to(Method::POST, "/api/v3/core/groups/").len(), 1);
    let lookup = &fake.calls_to(Method::GET, "/api/v3/core/groups/")[0];
    assert!(lookup.query.as_deref().unwrap().contains("name=acme"));
}

#[tokio::test]
async fn a_same_named_group_of_someone_else_is_a_conflict() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let mut other = tenant_group();
    other.tenant_id = "another-tenant".into();
    c.ensure_tenant_group(&other).await.unwrap();
    let err = c.ensure_tenant_group(&tenant_group()).await.unwrap_err();
    assert!(matches!(err, AuthentikError::Conflict(_)), "{err:?}");
    assert_eq!(fake.state().groups.len(), 1);
}

#[tokio::test]
async fn deleting_a_group_twice_is_fine() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    c.delete_group(&fx.group.pk).await.unwrap();
    c.delete_group(&fx.group.pk).await.unwrap();
    assert!(fx.fake.state().groups.is_empty());
    let err = c.delete_group("not-a-uuid").await.unwrap_err();
    assert!(matches!(err, AuthentikError::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn users_are_ensured_updated_deactivated_and_deleted() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let user = c.ensure_user(&new_user("carol")).await.unwrap();
    let again = c.ensure_user(&new_user("carol")).await.unwrap();
    assert_eq!(user.pk, again.pk);
    assert_eq!(fake.state().users.len(), 1);
    assert_eq!(user.email, "carol@acme.example");
    let sent = fake.calls_to(Method::POST, "/api/v3/core/users/")[0].json();
    assert_eq!(
        sent,
        json!({"username": "carol", "name": "carol Example",
        "email": "carol@acme.example", "path": "dezky/acme"})
    );

    let update = UserUpdate {
        name: Some("Carol C.".into()),
        email: Some("cc@acme.example".into()),
    };
    let updated = c.update_user(user.pk, &update).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.email.as_str()),
        ("Carol C.", "cc@acme.example")
    );
    let off = c.set_user_active(user.pk, false).await.unwrap();
    assert!(!off.is_active);
    assert_eq!(fake.state().users[&user.pk]["is_active"], false);
    assert!(c.set_user_active(user.pk, true).await.unwrap().is_active);

    c.delete_user(user.pk).await.unwrap();
    c.delete_user(user.pk).await.unwrap();
    assert!(fake.state().users.is_empty());
    let err = c.update_user(user.pk, &update).await.unwrap_err();
    assert!(
        matches!(err, AuthentikError::NotFound { what: "user" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_users_are_refused_field_by_field() {
    let fake = fake::spawn().await;
    let c = client(&fake);
    let mut bad = new_user("dave");
    bad.email = Some("dave-at-nowhere".into());
    let err = c.ensure_user(&bad).await.unwrap_err();
    let AuthentikError::Invalid { fields, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(fields["email"], ["Enter a valid email address."]);
    let err = c
        .ensure_user(&new_user(&"x".repeat(151)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("username"))
    );
    assert!(fake.state().users.is_empty());
    // The 151-character name breaks the schema's `maxLength: 150`: the fake caught it and
    // named the spec operation.
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("core_users_create") && violations[0].contains("body.username"),
        "{violations:?}"
    );
}

#[tokio::test]
async fn membership_is_added_once_and_removed() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    c.add_user_to_group(&fx.group.pk, fx.user.pk).await.unwrap();
    let members = || fx.fake.state().groups[&fx.group.pk]["users"].clone();
    assert_eq!(members(), json!([fx.user.pk]), "added once");
    c.remove_user_from_group(&fx.group.pk, fx.user.pk)
        .await
        .unwrap();
    assert_eq!(members(), json!([]));
    let err = c.add_user_to_group(&fx.group.pk, 9_999).await.unwrap_err();
    assert!(matches!(err, AuthentikError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn passwords_are_set_and_blank_ones_refused() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    c.set_password(fx.user.pk, &Secret::new("correct horse battery"))
        .await
        .unwrap();
    assert_eq!(
        fx.fake.state().passwords[&fx.user.pk],
        "correct horse battery"
    );
    let err = c
        .set_password(fx.user.pk, &Secret::new(""))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthentikError::Invalid { ref fields, .. } if fields.contains_key("password"))
    );
    let violations = fx.fake.take_violations();
    assert!(
        violations.len() == 1 && violations[0].contains("core_users_set_password_create"),
        "a blank password breaks `minLength: 1`: {violations:?}"
    );
    let err = c.set_password(9_999, &Secret::new("pw")).await.unwrap_err();
    assert!(
        matches!(err, AuthentikError::NotFound { what: "user" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn only_the_users_own_sessions_are_listed_and_ended() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    let bob = c.ensure_user(&new_user("bob")).await.unwrap();
    for _ in 0..140 {
        fx.fake.add_session(fx.user.pk);
    }
    let bobs = fx.fake.add_session(bob.pk);
    let alice = UserRef {
        pk: fx.user.pk,
        username: fx.user.username.clone(),
    };
    let sessions = c.list_sessions(&alice).await.unwrap();
    assert_eq!(
        sessions.len(),
        141,
        "the fixture's session, then 140 more over two pages"
    );
    assert!(sessions.iter().all(|s| s.user == fx.user.pk));

    // Even a server that ignores the username filter cannot make us end Bob's session.
    fx.fake.state().ignore_session_filter = true;
    assert_eq!(c.list_sessions(&alice).await.unwrap().len(), 141);
    assert_eq!(c.terminate_sessions(&alice).await.unwrap(), 141);
    let left = fx.fake.state().sessions.clone();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["uuid"], bobs.as_str());
    assert_eq!(c.terminate_sessions(&alice).await.unwrap(), 0);
}

#[tokio::test]
async fn authenticators_are_counted_per_user() {
    let fx = Fixture::new().await;
    let c = client(&fx.fake);
    fx.fake.add_device(fx.user.pk, "webauthn");
    fx.fake.add_device(fx.user.pk + 1, "totp");
    assert_eq!(c.count_authenticators(fx.user.pk).await.unwrap(), 2);
    assert_eq!(c.count_authenticators(9_999).await.unwrap(), 0);
    let call = fx
        .fake
        .calls_to(Method::GET, "/api/v3/authenticators/admin/all/");
    assert_eq!(
        call[0].query.as_deref(),
        Some(format!("user={}", fx.user.pk).as_str())
    );
}
