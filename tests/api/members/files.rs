//! A member's access to the tenant's files space on oCIS: the space role follows
//! `changeMemberRole` (manager for owners and admins, editor for members), suspension
//! disables the oCIS user (`accountEnabled`), and for a person in two tenants suspension and
//! removal take only this tenant's grant, leaving the other tenant's space intact.

use diesel_async::RunQueryDsl;
use platform_api::upstream::config::OcisConfig;
use platform_api::upstream::ocis::{EnsureSpace, HttpOcisClient, OcisClient, SpaceRole};
use platform_api::upstream::{Credentials, Secret};
use serde_json::{Value, json};

use super::lifecycle::{REMOVE, RESUME, ROLE, SUSPEND, id_of, of};
use super::{also_in_other, create, gone, settled, world};
use crate::provisioning::Stack;
use crate::support::World;
use crate::support::fakes::ocis as fake;
use crate::support::tables::count;

fn ocis(stack: &Stack) -> HttpOcisClient {
    let config = OcisConfig {
        url: stack.ocis.url.parse().unwrap(),
        credentials: Credentials::Bearer(Secret::new(fake::TOKEN)),
    };
    HttpOcisClient::new(&config, &stack.config().http).unwrap()
}

/// Gives `slug` a project space on the fake, as its provisioning would; returns its id.
async fn give_space(w: &World, stack: &Stack, slug: &str) -> String {
    let space = ocis(stack)
        .ensure_project_space(&EnsureSpace {
            name: slug.into(),
            description: None,
            quota_bytes: 1 << 30,
            existing_id: None,
        })
        .await
        .unwrap();
    let mut conn = w.db.connect().await;
    diesel::sql_query("UPDATE tenants SET ocis_space_id = $1 WHERE slug = $2")
        .bind::<diesel::sql_types::Text, _>(&space.id)
        .bind::<diesel::sql_types::Text, _>(slug)
        .execute(&mut conn)
        .await
        .unwrap();
    space.id
}

fn ocis_user(stack: &Stack, username: &str) -> Value {
    stack
        .ocis
        .state()
        .users
        .values()
        .find(|u| u["onPremisesSamAccountName"] == username)
        .cloned()
        .unwrap_or_else(|| panic!("no oCIS user {username}"))
}

/// The roles `user` holds on `space`'s root (one per grant).
fn grants(stack: &Stack, space: &str, user: &Value) -> Vec<String> {
    stack
        .ocis
        .state()
        .grants
        .iter()
        .filter(|(d, g)| d == space && g["grantedToV2"]["user"]["id"] == user["id"])
        .map(|(_, g)| g["roles"][0].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_space_role_follows_the_member_role_and_suspension_disables_the_user() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    let space = give_space(&w, &stack, "acme").await;
    create(&w, "ann", "acme", "sam@acme.example").await;
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    let sam = ocis_user(&stack, "sam@acme.example");
    assert_eq!(grants(&stack, &space, &sam), [SpaceRole::Editor.id()]);
    let id = id_of(&w, "acme", "sam@acme.example").await;
    let role = |role: &str| json!({ "input": { "tenant": "acme", "member": id, "role": role } });

    // MEMBER → ADMIN: a manager of the space, through one oCIS step.
    let body = w
        .allowed("ann", ROLE, role("ADMIN"), "member.change_role")
        .await;
    assert_eq!(body["data"]["changeMemberRole"]["member"]["role"], "ADMIN");
    let m = settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    assert_eq!(grants(&stack, &space, &sam), [SpaceRole::Manager.id()]);
    let steps: Vec<(&str, &str)> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("AUTHENTIK", "SKIPPED"),
            ("STALWART", "SKIPPED"),
            ("OCIS", "OK")
        ]
    );
    let mut conn = w.db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "member_events WHERE operation = 'change_role' AND terminal AND status = 'ok'"
        )
        .await,
        1
    );
    // ADMIN → OWNER keeps the space role: no job, no oCIS call.
    let jobs = count(&mut conn, "jobs").await;
    stack.ocis.clear_calls();
    w.allowed("owner", ROLE, role("OWNER"), "member.change_role")
        .await;
    assert_eq!(
        count(&mut conn, "jobs").await,
        jobs,
        "nothing to do on oCIS"
    );
    // OWNER → MEMBER: an editor again.
    w.allowed("owner", ROLE, role("MEMBER"), "member.change_role")
        .await;
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    assert_eq!(grants(&stack, &space, &sam), [SpaceRole::Editor.id()]);

    // Suspension disables the oCIS user and keeps the grant; resuming enables it.
    w.allowed("ann", SUSPEND, of("acme", &id), "member.suspend")
        .await;
    settled(&w, "acme", "sam@acme.example", "SUSPENDED").await;
    assert_eq!(
        ocis_user(&stack, "sam@acme.example")["accountEnabled"],
        false
    );
    assert_eq!(grants(&stack, &space, &sam), [SpaceRole::Editor.id()]);
    w.allowed("ann", RESUME, of("acme", &id), "member.resume")
        .await;
    settled(&w, "acme", "sam@acme.example", "ACTIVE").await;
    assert_eq!(
        ocis_user(&stack, "sam@acme.example")["accountEnabled"],
        true
    );
    assert_eq!(grants(&stack, &space, &sam), [SpaceRole::Editor.id()]);
    assert!(stack.ocis.take_violations().is_empty());
}

#[tokio::test]
async fn a_person_in_two_tenants_leaves_only_this_tenants_space() {
    let stack = Stack::spawn().await;
    let w = world(&stack, 2).await;
    let acme = give_space(&w, &stack, "acme").await;
    let other = give_space(&w, &stack, "other").await;
    create(&w, "ann", "acme", "pat@acme.example").await;
    settled(&w, "acme", "pat@acme.example", "ACTIVE").await;
    let pat = ocis_user(&stack, "pat@acme.example");
    // Pat also belongs to `other`, with a grant in its space.
    also_in_other(&w, "pat@acme.example").await;
    ocis(&stack)
        .add_user_to_space(&other, pat["id"].as_str().unwrap(), SpaceRole::Viewer)
        .await
        .unwrap();
    let id = id_of(&w, "acme", "pat@acme.example").await;

    // Suspended in acme: out of acme's space only; the user stays enabled for `other`.
    w.allowed("ann", SUSPEND, of("acme", &id), "member.suspend")
        .await;
    settled(&w, "acme", "pat@acme.example", "SUSPENDED").await;
    assert!(grants(&stack, &acme, &pat).is_empty());
    assert_eq!(grants(&stack, &other, &pat), [SpaceRole::Viewer.id()]);
    assert_eq!(
        ocis_user(&stack, "pat@acme.example")["accountEnabled"],
        true
    );
    // Resumed: back in acme's space with the role of their membership.
    w.allowed("ann", RESUME, of("acme", &id), "member.resume")
        .await;
    settled(&w, "acme", "pat@acme.example", "ACTIVE").await;
    assert_eq!(grants(&stack, &acme, &pat), [SpaceRole::Editor.id()]);

    // Removed from acme: acme's grant goes; the user and other's grant stay.
    w.allowed("ann", REMOVE, of("acme", &id), "member.remove")
        .await;
    gone(&w, "acme", "pat@acme.example").await;
    assert!(grants(&stack, &acme, &pat).is_empty());
    assert_eq!(grants(&stack, &other, &pat), [SpaceRole::Viewer.id()]);
    assert_eq!(ocis_user(&stack, "pat@acme.example")["id"], pat["id"]);
    assert!(stack.ocis.take_violations().is_empty());
}
