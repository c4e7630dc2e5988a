//! A step that fails: retried with backoff until it recovers; after the last attempt the
//! member is `ERROR` with the step named, and `retryMember` finishes it.

use axum::http::Method;
use serde_json::json;

use super::{RETRY, create, settled, world};
use crate::provisioning::Stack;
use crate::support::fakes::FaultKind;
use crate::support::tables::count;

fn unavailable() -> FaultKind {
    FaultKind::Status {
        status: 503,
        retry_after: None,
    }
}

fn step<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {m}"))
}

fn mailboxes(stack: &Stack, name: &str) -> usize {
    stack
        .stalwart
        .state()
        .accounts
        .values()
        .filter(|a| a["name"] == name)
        .count()
}

#[tokio::test]
async fn the_mailbox_fails_three_times_then_recovers_with_one_object_per_upstream() {
    let stack = Stack::spawn().await;
    stack
        .stalwart
        .fail_next_on(3, unavailable(), Method::POST, "/jmap/");
    let w = world(&stack, 2).await;
    let created = create(&w, "ann", "acme", "flaky@acme.example").await;
    let password = created["oneTimePassword"].as_str().unwrap().to_owned();
    let m = settled(&w, "acme", "flaky@acme.example", "ACTIVE").await;
    let mailbox = step(&m, "STALWART");
    assert_eq!(mailbox["status"], "OK", "{m:#}");
    assert_eq!(mailbox["attempts"], 4, "three failures, then success");
    assert_eq!(mailbox["lastError"], json!(null));
    assert_eq!(mailboxes(&stack, "flaky"), 1);
    let a = stack.authentik.state();
    assert_eq!(
        a.users
            .values()
            .filter(|u| u["username"] == "flaky@acme.example")
            .count(),
        1
    );
    drop(a);
    assert_eq!(
        stack
            .ocis
            .state()
            .users
            .values()
            .filter(|u| u["onPremisesSamAccountName"] == "flaky@acme.example")
            .count(),
        1
    );
    let s = stack.stalwart.state();
    let (id, _) = s
        .accounts
        .iter()
        .find(|(_, a)| a["name"] == "flaky")
        .unwrap();
    assert_eq!(s.passwords.get(id), Some(&password));
}

#[tokio::test]
async fn a_permanent_failure_ends_in_error_naming_the_step_and_a_retry_finishes_it() {
    let stack = Stack::spawn().await;
    stack
        .stalwart
        .fail_next_on(usize::MAX, unavailable(), Method::POST, "/jmap/");
    let w = world(&stack, 2).await;
    let created = create(&w, "ann", "acme", "stuck@acme.example").await;
    let password = created["oneTimePassword"].as_str().unwrap().to_owned();
    let id = created["member"]["id"].as_str().unwrap().to_owned();
    let m = settled(&w, "acme", "stuck@acme.example", "ERROR").await;
    let mailbox = step(&m, "STALWART");
    assert_eq!(mailbox["status"], "ERROR", "{m:#}");
    assert_eq!(mailbox["attempts"], 4, "every allowed attempt was made");
    assert!(
        mailbox["lastError"]
            .as_str()
            .unwrap()
            .starts_with("stalwart: "),
        "{mailbox}"
    );
    assert_eq!(step(&m, "AUTHENTIK")["status"], "OK");
    assert_eq!(step(&m, "OCIS")["status"], "OK");
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "member_events WHERE terminal AND status = 'error' AND message LIKE '%stalwart%'"
        )
        .await,
        1,
        "the terminal event names the step"
    );
    assert_eq!(
        count(&mut conn, "member_secrets").await,
        1,
        "kept sealed: the retry needs it"
    );
    assert_eq!(mailboxes(&stack, "stuck"), 0);

    // A plain member may not retry; the admin does once Stalwart is back.
    let vars = json!({ "input": { "tenant": "acme", "member": id } });
    w.denied(Some("mo"), RETRY, vars.clone(), "member.retry", "FORBIDDEN")
        .await;
    stack.stalwart.clear_faults();
    let body = w.allowed("ann", RETRY, vars.clone(), "member.retry").await;
    assert_eq!(
        body["data"]["retryMember"]["member"]["status"],
        "PROVISIONING"
    );
    let m = settled(&w, "acme", "stuck@acme.example", "ACTIVE").await;
    assert_eq!(step(&m, "STALWART")["status"], "OK");
    assert_eq!(mailboxes(&stack, "stuck"), 1);
    {
        let s = stack.stalwart.state();
        let (account, _) = s
            .accounts
            .iter()
            .find(|(_, a)| a["name"] == "stuck")
            .unwrap();
        assert_eq!(
            s.passwords.get(account),
            Some(&password),
            "the mailbox got the password shown at creation"
        );
    }
    assert_eq!(count(&mut conn, "member_secrets").await, 0);
    assert_eq!(
        stack
            .authentik
            .state()
            .users
            .values()
            .filter(|u| u["username"] == "stuck@acme.example")
            .count(),
        1,
        "the finished steps were not run again"
    );
    // Nothing left to retry.
    w.invalid("ann", RETRY, vars, "member.retry", "input.member")
        .await;
}
