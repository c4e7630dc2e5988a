//! suspend / resume / forceLogout / resetPassword / changeRole / remove against the fakes:
//! the state on every fake afterwards, who may, self-actions refused before any upstream
//! call, the last-owner rule, a person in two tenants, and a terminated tenant's teardown.

use std::time::Duration;

use serde_json::{Value, json};

use super::{also_in_other, create, gone, member, settled, upstream_calls, world};
use crate::provisioning::Stack;
use crate::support::World;
use crate::support::tables::count;

pub(super) const SUSPEND: &str = r#"
mutation($input: MemberRefInput!) { suspendMember(input: $input) { member { status } } }"#;
pub(super) const RESUME: &str = r#"
mutation($input: MemberRefInput!) { resumeMember(input: $input) { member { status } } }"#;
pub(super) const LOGOUT: &str = r#"
mutation($input: MemberRefInput!) { forceLogoutMember(input: $input) { sessionsEnded } }"#;
pub(super) const RESET: &str = r#"
mutation($input: MemberRefInput!) { resetMemberPassword(input: $input) { oneTimePassword } }"#;
pub(super) const ROLE: &str = r#"
mutation($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { member { role } } }"#;
pub(super) const REMOVE: &str = r#"
mutation($input: MemberRefInput!) { removeMember(input: $input) { member { status } } }"#;
const TERMINATE: &str = r#"
mutation($input: TenantStatusInput!) { terminateTenant(input: $input) { tenant { status } } }"#;

pub(super) fn of(tenant: &str, id: &Value) -> Value {
    json!({ "input": { "tenant": tenant, "member": id } })
}

/// The member id of `email` in `slug`.
pub(super) async fn id_of(w: &World, slug: &str, email: &str) -> Value {
    member(w, slug, email).await["id"].clone()
}

pub(super) fn authentik_user(stack: &Stack, username: &str) -> Option<Value> {
    stack
        .authentik
        .state()
        .users
        .values()
        .find(|u| u["username"] == username)
        .cloned()
}

fn mailbox(stack: &Stack, name: &str) -> Option<(Value, Option<String>)> {
    let s = stack.stalwart.state();
    s.accounts
        .iter()
        .find(|(_, a)| a["name"] == name)
        .map(|(id, a)| (a.clone(), s.passwords.get(id).cloned()))
}

fn group_users(stack: &Stack, slug: &str) -> Vec<i64> {
    stack
        .authentik
        .state()
        .groups
        .values()
        .find(|g| g["name"] == slug)
        .map(|g| {
            g["users"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_i64)
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the member's latest operation has no open step.
async fn idle(w: &World, slug: &str, email: &str, status: &str) -> Value {
    settled(w, slug, email, status).await
}

#[tokio::test]
async fn suspend_keeps_the_mailbox_password_and_resume_restores_access() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    let password = create(&w, "ann", "acme", "sam@acme.example").await["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    let id = id_of(&w, "acme", "sam@acme.example").await;

    // Denied callers and bad ids reach no upstream.
    let calls = upstream_calls(&stack);
    w.denied(
        Some("mo"),
        SUSPEND,
        of("acme", &id),
        "member.suspend",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("olga"),
        SUSPEND,
        of("acme", &id),
        "member.suspend",
        "NOT_FOUND",
    )
    .await;
    w.invalid(
        "ann",
        SUSPEND,
        of("acme", &json!("nope")),
        "member.suspend",
        "input.member",
    )
    .await;
    let ann = id_of(&w, "acme", "ann@example.com").await;
    let refused = w
        .refused(
            Some("ann"),
            SUSPEND,
            of("acme", &ann),
            "member.suspend",
            "FORBIDDEN",
            "denied",
        )
        .await;
    assert!(refused.to_string().contains("yourself"), "{refused}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        upstream_calls(&stack),
        calls,
        "no upstream call when refused"
    );

    let body = w
        .allowed("ann", SUSPEND, of("acme", &id), "member.suspend")
        .await;
    assert_eq!(
        body["data"]["suspendMember"]["member"]["status"],
        "SUSPENDED"
    );
    idle(&w, "acme", "sam@acme.example", "SUSPENDED").await;
    assert_eq!(
        authentik_user(&stack, "sam@acme.example").unwrap()["is_active"],
        false
    );
    let (account, mail_password) = mailbox(&stack, "sam").unwrap();
    assert_eq!(
        account["permissions"]["disabledPermissions"]["authenticate"], true,
        "{account}"
    );
    assert_eq!(
        mail_password.as_deref(),
        Some(password.as_str()),
        "password kept"
    );
    // Suspending again is a conflict.
    w.refused(
        Some("ann"),
        SUSPEND,
        of("acme", &id),
        "member.suspend",
        "CONFLICT",
        "failure",
    )
    .await;

    w.allowed("ann", RESUME, of("acme", &id), "member.resume")
        .await;
    idle(&w, "acme", "sam@acme.example", "ACTIVE").await;
    assert_eq!(
        authentik_user(&stack, "sam@acme.example").unwrap()["is_active"],
        true
    );
    let (account, mail_password) = mailbox(&stack, "sam").unwrap();
    assert_eq!(account["permissions"]["@type"], "Inherit", "{account}");
    assert_eq!(mail_password.as_deref(), Some(password.as_str()));
}

#[tokio::test]
async fn a_suspended_tenant_cannot_resume_members() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "sue@acme.example").await;
    settled(&w, "acme", "sue@acme.example", "ACTIVE").await;
    let id = id_of(&w, "acme", "sue@acme.example").await;
    w.allowed("ann", SUSPEND, of("acme", &id), "member.suspend")
        .await;
    idle(&w, "acme", "sue@acme.example", "SUSPENDED").await;
    let mut conn = w.db.connect().await;
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query("UPDATE tenants SET status = 'suspended' WHERE slug = 'acme'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    w.refused(
        Some("root"),
        RESUME,
        of("acme", &id),
        "member.resume",
        "CONFLICT",
        "failure",
    )
    .await;
}

#[tokio::test]
async fn reset_password_sets_a_new_one_time_password_on_sso_and_mailbox() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    let old = create(&w, "ann", "acme", "rex@acme.example").await["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    settled(&w, "acme", "rex@acme.example", "ACTIVE").await;
    let id = id_of(&w, "acme", "rex@acme.example").await;
    w.denied(
        Some("mo"),
        RESET,
        of("acme", &id),
        "member.reset_password",
        "FORBIDDEN",
    )
    .await;
    let body = w
        .allowed("ann", RESET, of("acme", &id), "member.reset_password")
        .await;
    let new = body["data"]["resetMemberPassword"]["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    idle(&w, "acme", "rex@acme.example", "ACTIVE").await;
    let pk = authentik_user(&stack, "rex@acme.example").unwrap()["pk"]
        .as_i64()
        .unwrap();
    assert_eq!(stack.authentik.state().passwords.get(&pk), Some(&new));
    assert_eq!(mailbox(&stack, "rex").unwrap().1, Some(new));
    let mut conn = w.db.connect().await;
    assert_eq!(count(&mut conn, "member_secrets").await, 0);
}

#[tokio::test]
async fn roles_change_but_the_last_owner_stays() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 0).await;
    let owner = id_of(&w, "acme", "owner@example.com").await;
    let ann = id_of(&w, "acme", "ann@example.com").await;
    let mo = id_of(&w, "acme", "mo@example.com").await;
    let role = |id: &Value, role: &str| json!({ "input": { "tenant": "acme", "member": id, "role": role } });
    w.allowed("ann", ROLE, role(&mo, "ADMIN"), "member.change_role")
        .await;
    // Only owners grant or take the owner role.
    w.denied(
        Some("ann"),
        ROLE,
        role(&mo, "OWNER"),
        "member.change_role",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("ann"),
        ROLE,
        role(&owner, "MEMBER"),
        "member.change_role",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("olga"),
        ROLE,
        role(&ann, "MEMBER"),
        "member.change_role",
        "NOT_FOUND",
    )
    .await;
    // The last owner can be neither demoted (even by themselves or an operator) nor removed.
    for who in ["owner", "root"] {
        let body = w
            .refused(
                Some(who),
                ROLE,
                role(&owner, "ADMIN"),
                "member.change_role",
                "CONFLICT",
                "failure",
            )
            .await;
        assert!(body.to_string().contains("last owner"), "{body}");
    }
    w.refused(
        Some("root"),
        REMOVE,
        of("acme", &owner),
        "member.remove",
        "CONFLICT",
        "failure",
    )
    .await;
    w.invalid(
        "owner",
        ROLE,
        role(&json!("bad"), "ADMIN"),
        "member.change_role",
        "input.member",
    )
    .await;
    // With a second owner, the first may step down.
    w.allowed("owner", ROLE, role(&ann, "OWNER"), "member.change_role")
        .await;
    let body = w
        .allowed("owner", ROLE, role(&owner, "ADMIN"), "member.change_role")
        .await;
    assert_eq!(body["data"]["changeMemberRole"]["member"]["role"], "ADMIN");
}

#[tokio::test]
async fn remove_tears_down_and_spares_the_other_tenant_of_a_person_in_two() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "pat@acme.example").await;
    create(&w, "ann", "acme", "solo@acme.example").await;
    settled(&w, "acme", "pat@acme.example", "ACTIVE").await;
    settled(&w, "acme", "solo@acme.example", "ACTIVE").await;
    let pat_pk = authentik_user(&stack, "pat@acme.example").unwrap()["pk"]
        .as_i64()
        .unwrap();
    // Pat also belongs to `other` (the groups-claim path).
    also_in_other(&w, "pat@acme.example").await;
    let mut conn = w.db.connect().await;
    let pat = id_of(&w, "acme", "pat@acme.example").await;
    let solo = id_of(&w, "acme", "solo@acme.example").await;
    let ann = id_of(&w, "acme", "ann@example.com").await;
    let calls = upstream_calls(&stack);
    w.denied(
        Some("mo"),
        REMOVE,
        of("acme", &pat),
        "member.remove",
        "FORBIDDEN",
    )
    .await;
    w.denied(
        Some("ann"),
        REMOVE,
        of("acme", &ann),
        "member.remove",
        "FORBIDDEN",
    )
    .await;
    assert_eq!(upstream_calls(&stack), calls);

    w.allowed("ann", REMOVE, of("acme", &pat), "member.remove")
        .await;
    w.allowed("ann", REMOVE, of("acme", &solo), "member.remove")
        .await;
    gone(&w, "acme", "pat@acme.example").await;
    gone(&w, "acme", "solo@acme.example").await;
    // Pat: mailbox gone, out of acme's group, but the sign-in and files stay for `other`.
    assert!(mailbox(&stack, "pat").is_none());
    assert!(authentik_user(&stack, "pat@acme.example").is_some());
    assert!(!group_users(&stack, "acme").contains(&pat_pk));
    assert_eq!(
        stack
            .ocis
            .state()
            .users
            .values()
            .filter(|u| u["onPremisesSamAccountName"] == "pat@acme.example")
            .count(),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            &format!("memberships WHERE tenant_id = '{}'", w.id("other"))
        )
        .await,
        2,
        "olga and pat stay in other"
    );
    // Solo: everything gone.
    assert!(mailbox(&stack, "solo").is_none());
    assert!(authentik_user(&stack, "solo@acme.example").is_none());
    assert!(
        !stack
            .ocis
            .state()
            .users
            .values()
            .any(|u| u["onPremisesSamAccountName"] == "solo@acme.example")
    );
    assert_eq!(
        count(
            &mut conn,
            "member_events WHERE operation = 'remove' AND terminal"
        )
        .await,
        2,
        "the removal's events outlive the membership"
    );
}

#[tokio::test]
async fn terminating_a_tenant_tears_down_its_members_and_group() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    create(&w, "ann", "acme", "end@acme.example").await;
    settled(&w, "acme", "end@acme.example", "ACTIVE").await;
    assert!(
        stack
            .authentik
            .state()
            .groups
            .values()
            .any(|g| g["name"] == "acme")
    );
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "tenants WHERE slug = 'acme' AND authentik_group_id IS NOT NULL"
        )
        .await,
        1,
        "the member step keeps the group it ensured on the tenant"
    );
    w.allowed(
        "root",
        TERMINATE,
        json!({ "input": { "tenant": "acme", "reason": "contract ended" } }),
        "tenant.terminate",
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count(
        &mut conn,
        &format!("memberships WHERE tenant_id = '{}'", w.id("acme")),
    )
    .await
        > 0
        || stack
            .authentik
            .state()
            .groups
            .values()
            .any(|g| g["name"] == "acme")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "teardown did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mailbox(&stack, "end").is_none());
    assert!(authentik_user(&stack, "end@acme.example").is_none());
    assert_eq!(
        count(
            &mut conn,
            &format!("memberships WHERE tenant_id = '{}'", w.id("other"))
        )
        .await,
        1,
        "other tenants keep their members"
    );
}
