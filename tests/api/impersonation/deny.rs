//! The deny-list: actions that must stay the user's own are refused while impersonating,
//! in the audited runner, with a reason, audited as denied. The listed actions land with
//! other areas; the mechanism is tested here through the runner itself, with a real session
//! and the Viewer its token resolves to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use platform_api::auth::TenantAccess;
use platform_api::auth::policy::DENIED_WHILE_IMPERSONATING;
use platform_api::domain::audit::Actor;
use platform_api::domain::audit::change::{Caller, need};
use platform_api::error::AppError;
use serde_json::json;

use super::{start_as_root, world};
use crate::support::World;
use crate::support::tables::count;

/// The caller a request with `token` would be.
async fn caller_of(w: &World, token: &str) -> Caller {
    let verified = w.state.auth.verifier.verify(token).await.expect("verifies");
    let mut conn = w.state.pool.get().await.unwrap();
    let viewer = platform_api::domain::users::load_viewer(&mut conn, &verified)
        .await
        .expect("viewer");
    Caller {
        pool: w.state.pool.clone(),
        actor: Actor::of(Some(&viewer), Some("req-deny".into()), None),
        viewer: Some(Arc::new(viewer)),
        metrics: None,
    }
}

/// Runs `action` on acme (member access) through the runner; whether the change ran.
async fn attempt(caller: &Caller, action: &'static str) -> (Result<(), AppError>, bool) {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let result = caller
        .change(action, "member")
        .run(
            need::tenant("acme", TenantAccess::Member),
            async move |_tx, _tenant| {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .await;
    (result, ran.load(Ordering::SeqCst))
}

#[tokio::test]
async fn every_listed_action_is_forbidden_while_impersonating_and_audited_as_denied() {
    let w = world().await;
    let (token, session) = start_as_root(&w, "bob", json!({})).await;
    let impersonating = caller_of(&w, &token).await;
    let bob = caller_of(&w, &w.token("bob")).await;
    let actions: Vec<&'static str> = DENIED_WHILE_IMPERSONATING
        .iter()
        .map(|entry| {
            if entry.ends_with('.') {
                &*Box::leak(format!("{entry}change").into_boxed_str())
            } else {
                *entry
            }
        })
        .collect();
    for action in &actions {
        let (result, ran) = attempt(&impersonating, action).await;
        match result {
            Err(AppError::Forbidden(why)) => assert!(why.contains("impersonating"), "{why}"),
            other => panic!("{action}: expected FORBIDDEN, got {other:?}"),
        }
        assert!(!ran, "{action}: the change must not run");
        // The user themselves may (the list is about who acts, not what).
        let (result, ran) = attempt(&bob, action).await;
        assert!(result.is_ok() && ran, "{action} as bob: {result:?}");
    }
    // An action off the list runs under impersonation.
    let (result, ran) = attempt(&impersonating, "member.create").await;
    assert!(result.is_ok() && ran, "{result:?}");

    let mut conn = w.db.connect().await;
    let session_id = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(session.as_bytes())
            .unwrap();
        String::from_utf8(raw)
            .unwrap()
            .split_once(':')
            .unwrap()
            .1
            .to_owned()
    };
    let denied = count(
        &mut conn,
        &format!(
            "audit_events WHERE outcome = 'denied' AND details->>'error' = 'FORBIDDEN' \
               AND actor_email = 'root@example.com' AND subject_email = 'bob@example.com' \
               AND impersonation_session_id = '{session_id}' \
               AND tenant_id IS NOT NULL AND request_id = 'req-deny'"
        ),
    )
    .await;
    assert_eq!(denied, actions.len() as i64);
    // bob's own attempts carry no impersonation.
    let own = count(
        &mut conn,
        "audit_events WHERE outcome = 'success' AND actor_email = 'bob@example.com' \
           AND subject_email IS NULL AND impersonation_session_id IS NULL",
    )
    .await;
    assert_eq!(own, actions.len() as i64);
}
