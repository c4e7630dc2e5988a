//! `createMember`: one object per upstream, the password shown once, progress over the
//! WebSocket, who may, what is refused, seats, and a later sign-in matched to the member.

use std::time::Duration;

use serde_json::{Value, json};

use super::{CREATE, create, input, member, settled, upstream_calls, world};
use crate::provisioning::{Stack, quick_jobs};
use crate::support::tables::count;
use crate::support::ws::{Incoming, WsClient};
use crate::support::{Token, World};

async fn sql(w: &World, statement: &str) {
    use diesel_async::RunQueryDsl;
    let mut conn = w.db.connect().await;
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Gives acme's live subscription `seats` seats.
pub async fn seats(w: &World, seats: i32) {
    sql(
        w,
        &format!(
            "UPDATE subscriptions SET seats = {seats} WHERE tenant_id = '{}'",
            w.id("acme")
        ),
    )
    .await;
}

#[tokio::test]
async fn creates_one_object_per_upstream_and_shows_the_password_once() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    let created = create(&w, "ann", "acme", "Ada@acme.example").await;
    let password = created["oneTimePassword"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 20);
    assert_eq!(created["member"]["status"], "PROVISIONING", "{created}");
    assert_eq!(created["member"]["user"]["email"], "ada@acme.example");
    assert_eq!(created["warnings"], json!([]), "the domain is verified");

    let m = settled(&w, "acme", "ada@acme.example", "ACTIVE").await;
    for step in m["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "OK", "{m:#}");
        assert_eq!(step["attempts"], 1);
    }
    // Authentik: one user, with the password, in the tenant's group.
    let (pk, group_members) = {
        let a = stack.authentik.state();
        let users: Vec<&Value> = a
            .users
            .values()
            .filter(|u| u["username"] == "ada@acme.example")
            .collect();
        assert_eq!(users.len(), 1, "one Authentik user");
        let pk = users[0]["pk"].as_i64().unwrap();
        assert_eq!(users[0]["is_active"], true);
        assert_eq!(
            a.passwords.get(&pk).map(String::as_str),
            Some(password.as_str())
        );
        let group = a
            .groups
            .values()
            .find(|g| g["name"] == "acme")
            .expect("the tenant's group")
            .clone();
        (pk, group["users"].clone())
    };
    assert!(
        group_members.as_array().unwrap().contains(&json!(pk)),
        "{group_members}"
    );
    // Stalwart: one mailbox with the same password and the plan's quota.
    {
        let s = stack.stalwart.state();
        let accounts: Vec<(&String, &Value)> = s
            .accounts
            .iter()
            .filter(|(_, a)| a["name"] == "ada")
            .collect();
        assert_eq!(accounts.len(), 1, "one mailbox");
        let (id, account) = accounts[0];
        assert_eq!(
            s.passwords.get(id).map(String::as_str),
            Some(password.as_str())
        );
        assert_eq!(
            account["quotas"]["maxDiskQuota"],
            json!(5u64 * 1024 * 1024 * 1024)
        );
    }
    // oCIS: one user with the same password.
    {
        let o = stack.ocis.state();
        let users: Vec<&Value> = o
            .users
            .values()
            .filter(|u| u["onPremisesSamAccountName"] == "ada@acme.example")
            .collect();
        assert_eq!(users.len(), 1, "one oCIS user");
        let id = users[0]["id"].as_str().unwrap();
        assert_eq!(
            o.passwords.get(id).map(String::as_str),
            Some(password.as_str())
        );
    }
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "users WHERE email = 'ada@acme.example' AND authentik_user_pk = {pk} \
                 AND ocis_user_id IS NOT NULL AND authentik_subject IS NULL"
            )
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "memberships WHERE stalwart_account_id IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&mut conn, "member_secrets").await,
        0,
        "the sealed form is gone"
    );

    // The password is never shown again: no field reads it back.
    let again = w
        .query_with("root", super::MEMBERS, json!({ "slug": "acme" }))
        .await;
    assert!(!again.to_string().contains(&password));

    // Ada signs in for the first time: her row is claimed, not duplicated.
    let token = Token::portal("ada-sub").email("ADA@acme.example").sign(&w);
    let me = w
        .graphql_as(
            &token,
            "{ me { user { email } memberships { tenantSlug role status } } }",
        )
        .await;
    assert_eq!(
        me["data"]["me"]["memberships"],
        json!([{ "tenantSlug": "acme", "role": "MEMBER", "status": "ACTIVE" }]),
        "{me}"
    );
    assert_eq!(
        count(&mut conn, "users WHERE lower(email) = 'ada@acme.example'").await,
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "users WHERE authentik_subject = 'ada-sub' AND authentik_user_pk IS NOT NULL"
        )
        .await,
        1
    );

    // The same person again: CONFLICT, nothing written.
    w.refused(
        Some("ann"),
        CREATE,
        input("acme", "ada@acme.example", "MEMBER"),
        "member.create",
        "CONFLICT",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn an_unverified_domain_is_allowed_with_a_warning() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    let created = create(&w, "ann", "acme", "bob@acme-new.example").await;
    let warnings = created["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{created}");
    assert!(
        warnings[0].as_str().unwrap().contains("not verified"),
        "{created}"
    );
}

#[tokio::test]
async fn who_may_create_members_and_denied_callers_reach_no_upstream() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    seats(&w, 50).await;
    for (who, email) in [
        ("owner", "o1@acme.example"),
        ("ann", "a1@acme.example"),
        ("pstaff", "p1@acme.example"),
        ("root", "r1@acme.example"),
    ] {
        create(&w, who, "acme", email).await;
        settled(&w, "acme", email, "ACTIVE").await;
    }
    // Only owners and above may create an owner.
    w.allowed(
        "owner",
        CREATE,
        input("acme", "o2@acme.example", "OWNER"),
        "member.create",
    )
    .await;
    settled(&w, "acme", "o2@acme.example", "ACTIVE").await;

    let calls = upstream_calls(&stack);
    let vars = |email: &str, role: &str| input("acme", email, role);
    w.denied(
        Some("ann"),
        CREATE,
        vars("x1@acme.example", "OWNER"),
        "member.create",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("mo"),
        CREATE,
        vars("x2@acme.example", "MEMBER"),
        "member.create",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("olga"),
        CREATE,
        vars("x3@acme.example", "MEMBER"),
        "member.create",
        "NOT_FOUND",
    )
    .await;
    w.denied(
        Some("stranger"),
        CREATE,
        vars("x4@acme.example", "MEMBER"),
        "member.create",
        "NOT_FOUND",
    )
    .await;
    w.denied(
        None,
        CREATE,
        vars("x5@acme.example", "MEMBER"),
        "member.create",
        "UNAUTHENTICATED",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        upstream_calls(&stack),
        calls,
        "no upstream call for a denied mutation"
    );
}

#[tokio::test]
async fn invalid_input_writes_nothing() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    let cases = [
        (
            json!({ "tenant": "acme", "email": "not-an-address", "name": "A", "role": "MEMBER" }),
            "input.email",
        ),
        (
            json!({ "tenant": "acme", "email": "a b@acme.example", "name": "A", "role": "MEMBER" }),
            "input.email",
        ),
        (
            json!({ "tenant": "acme", "email": "ok@acme.example", "name": "  ", "role": "MEMBER" }),
            "input.name",
        ),
        // Another tenant's domain reads like an unknown one.
        (
            json!({ "tenant": "acme", "email": "ok@other.example", "name": "A", "role": "MEMBER" }),
            "input.email",
        ),
        (
            json!({ "tenant": "acme", "email": "ok@nowhere.example", "name": "A", "role": "MEMBER" }),
            "input.email",
        ),
    ];
    for (input, field) in cases {
        w.invalid(
            "ann",
            CREATE,
            json!({ "input": input }),
            "member.create",
            field,
        )
        .await;
    }
    assert_eq!(upstream_calls(&stack), 0);
}

#[tokio::test]
async fn beyond_the_seats_is_a_conflict_saying_how_many() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    // Three members already; five seats: 80 %, then 100 %, then no more.
    seats(&w, 5).await;
    let fourth = create(&w, "ann", "acme", "fourth@acme.example").await;
    assert_eq!(
        fourth["warnings"],
        json!(["the tenant now uses 80 % of its 5 seats"]),
        "{fourth}"
    );
    let fifth = create(&w, "ann", "acme", "fifth@acme.example").await;
    assert_eq!(
        fifth["warnings"],
        json!(["the tenant now uses 100 % of its 5 seats"]),
        "{fifth}"
    );
    let usage = w
        .query_with(
            "ann",
            "query($s: String!) { tenant(slug: $s) { seatUsage { used included percent warning } } }",
            json!({ "s": "acme" }),
        )
        .await;
    assert_eq!(
        usage["data"]["tenant"]["seatUsage"],
        json!({ "used": 5, "included": 5, "percent": 100, "warning": 100 }),
        "{usage}"
    );
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE action = 'member.create' AND details->>'seatWarning' IS NOT NULL"
        )
        .await,
        2
    );
    let body = w
        .refused(
            Some("ann"),
            CREATE,
            input("acme", "sixth@acme.example", "MEMBER"),
            "member.create",
            "CONFLICT",
            "failure",
        )
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("5 seats"), "{message}");
}

#[tokio::test]
async fn a_suspended_tenant_gets_no_new_members() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    sql(
        &w,
        "UPDATE tenants SET status = 'suspended' WHERE slug = 'acme'",
    )
    .await;
    w.refused(
        Some("root"),
        CREATE,
        input("acme", "new@acme.example", "MEMBER"),
        "member.create",
        "CONFLICT",
        "failure",
    )
    .await;
}

const PROGRESS: &str = r#"
subscription($member: ID!, $after: Int!) {
  memberProgress(memberId: $member, afterSeq: $after) { seq operation step status terminal message }
}"#;

#[tokio::test]
async fn progress_is_replayed_then_streamed_live_from_another_replica() {
    let stack = Stack::spawn().await;
    // The API replica runs no workers.
    let api = world(&stack, 0).await;
    let created = create(&api, "ann", "acme", "live@acme.example").await;
    let id = created["member"]["id"].as_str().unwrap().to_owned();
    let mut ws = WsClient::connect_authenticated(api.addr, &api.token("ann")).await;
    ws.send(json!({ "id": "m", "type": "subscribe",
                    "payload": { "query": PROGRESS, "variables": { "member": id, "after": 0 } } }))
        .await;
    let mut got = Vec::new();
    // The three `pending` events are replayed before any work starts.
    for _ in 0..3 {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                got.push(m["payload"]["data"]["memberProgress"].clone());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        got.iter()
            .all(|e| e["status"] == "PENDING" && e["operation"] == "CREATE")
    );
    // Now a replica with workers does the work.
    let upstreams = stack.config();
    let _workers = api
        .spawn_sibling(move |c| {
            c.upstreams = upstreams;
            quick_jobs(c, 2);
        })
        .await;
    loop {
        match ws.next().await {
            Incoming::Json(m) if m["type"] == "next" => {
                assert!(m["payload"].get("errors").is_none(), "{m}");
                got.push(m["payload"]["data"]["memberProgress"].clone());
            }
            Incoming::Json(m) if m["type"] == "complete" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let seqs: Vec<i64> = got.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let last = got.last().unwrap();
    assert_eq!(
        (&last["terminal"], &last["status"]),
        (&json!(true), &json!("OK")),
        "{got:#?}"
    );
    assert_eq!(
        got.iter()
            .filter(|e| e["status"] == "OK" && e["step"] != Value::Null)
            .count(),
        3
    );
    assert_eq!(
        member(&api, "acme", "live@acme.example").await["status"],
        "ACTIVE"
    );

    // Someone who may not see the member gets NOT_FOUND.
    let mut other = WsClient::connect_authenticated(api.addr, &api.token("olga")).await;
    other
        .send(json!({ "id": "x", "type": "subscribe",
                      "payload": { "query": PROGRESS, "variables": { "member": id, "after": 0 } } }))
        .await;
    match other.next().await {
        Incoming::Json(m) => {
            assert_eq!(
                m["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
                "{m}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
